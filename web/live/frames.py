"""SSE wire frames and what decides who receives one (the subject, never the body)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core import subjects

HEARTBEAT: Final = b": heartbeat\n\n"
RETRY_MS: Final = 3000
OPENING: Final = b"retry: %d\n: connected\n\n" % RETRY_MS
"""First bytes of every stream: the client's reconnect delay, and a line that flushes
the response headers through proxies at once."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One event, encoded once and shared by every connection that receives it."""

    seq: int
    user_id: str
    strategy_id: str
    """`-` when the event belongs to no strategy."""
    data: bytes
    """`id: {seq}\\nevent: {type}\\ndata: {json}\\n\\n`."""


def frame_of(subject: str, seq: int, body: bytes) -> Frame | None:
    """The frame of an event stored at `subject` (`events.{user}.{strategy}.{type}`) under
    stream sequence `seq`; None for a subject that is not an event's."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != "events":
        return None
    _, user_id, strategy_id, event_type = parts
    # msgspec's JSON has no raw newline, so the body fits on one `data:` line.
    data = b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, event_type.encode(), body)
    return Frame(seq, user_id, strategy_id, data)


@dataclass(frozen=True, slots=True)
class Scope:
    """What one connection may see: one strategy, one user, or (admin) everything."""

    user_id: str | None
    """None: every user's events (the admin stream)."""
    strategy_id: str | None = None

    def admits(self, frame: Frame) -> bool:
        """True if the frame belongs in this scope."""
        if self.user_id is not None and frame.user_id != self.user_id:
            return False
        return self.strategy_id is None or frame.strategy_id == self.strategy_id

    @property
    def subject(self) -> str:
        """The EVENTS subject filter of this scope (for replay)."""
        if self.user_id is None:
            return subjects.EVENTS_ALL
        if self.strategy_id is None:
            return subjects.user_events(self.user_id)
        return subjects.strategy_events(self.user_id, self.strategy_id)
