"""What can go wrong when talking to a broker, by what the executor may do next.

    BrokerError                 base; never raised itself
    ├── OrderRejected           the broker refused the order (input, margin, RMS): final
    ├── NotSent                 proven not to have reached the broker: safe to retry
    │   └── RateLimited         the broker said 429 before taking the order: retry later
    ├── Ambiguous               may have reached the broker (timeout or reset after
    │                           sending, 5xx): look the client tag up, never blind-retry
    ├── TokenExpired            the session is dead; the user must log in again: final
    ├── BrokerUnavailable       a non-order call failed (lookup, LTP, positions): try later
    │   └── InstrumentMasterInvalid  a downloaded instrument master failed validation;
    │                                the previous one stays in use
    └── UnsupportedBroker       no adapter is registered for the broker type

Adapters map their broker's own error model onto these classes in their `errors.py`.
"""

from __future__ import annotations

from typing import Any


class BrokerError(Exception):
    """Base of every broker failure; `response` is what the broker said, if anything."""

    def __init__(self, message: str, *, response: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.response = response


class OrderRejected(BrokerError):
    """The broker received the order and refused it. Final: never retried."""


class NotSent(BrokerError):
    """The request never reached the broker (connection refused, DNS, pool closed)."""


class RateLimited(NotSent):
    """The broker refused the request for rate before accepting it."""

    def __init__(self, message: str, *, retry_after_s: float = 1.0,
                 response: dict[str, Any] | None = None) -> None:
        super().__init__(message, response=response)
        self.retry_after_s = retry_after_s


class Ambiguous(BrokerError):
    """The order may or may not exist at the broker: resolve by looking up its tag."""


class TokenExpired(BrokerError):
    """The broker session (access token) is no longer valid."""


class BrokerUnavailable(BrokerError):
    """A read call (order lookup, positions, LTP) failed; nothing was changed."""


class InstrumentMasterInvalid(BrokerUnavailable):
    """A downloaded instrument master is unusable (missing columns, empty, truncated)."""


class UnsupportedBroker(BrokerError):
    """No adapter is registered for this broker type."""
