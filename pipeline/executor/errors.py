"""Why the executor could not finish a command on this delivery.

    ExecutorError
    ├── Permanent        can never succeed: dead-lettered at once, never retried
    │   └── ForeignCommand   names a strategy that does not exist for that user
    ├── Busy             another worker holds the intent's lock: retry shortly
    ├── LeaseLost        this worker's lock expired or was taken: stop before any send
    ├── Halted           the kill switch is on: nothing is sent (the order is SKIPPED)
    └── LookupFailed     the broker could not say whether the order exists: the order
                         stays UNKNOWN and the command is retried, never blindly resent
"""

from __future__ import annotations

from typing import Any


class ExecutorError(Exception):
    """Base of the executor's own errors."""


class Permanent(ExecutorError):
    """A command that can never succeed."""


class ForeignCommand(Permanent):
    """The command names a strategy that does not exist for that user."""


class Busy(ExecutorError):
    """Another worker holds the intent's lock, for `retry_after_s` more at most."""

    def __init__(self, key: str, retry_after_s: float) -> None:
        super().__init__(f"{key} is held for {retry_after_s:.1f}s more")
        self.retry_after_s = retry_after_s


class LeaseLost(ExecutorError):
    """The intent's lock is no longer this worker's: it must not send."""


class Halted(ExecutorError):
    """The kill switch is on."""


class LookupFailed(ExecutorError):
    """The broker could not say whether the order exists; `outcome` holds what was tried
    (an `Outcome`, kept so the attempts and sends are recorded)."""

    def __init__(self, message: str, outcome: Any = None) -> None:
        super().__init__(message)
        self.outcome = outcome
