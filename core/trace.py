"""The trace id of the work in hand, carried by HTTP headers and NATS `Trace-Id` headers."""

from __future__ import annotations

import secrets
from contextvars import ContextVar, Token

TRACE_HEADER = "Trace-Id"
REQUEST_ID_HEADER = "X-Request-ID"

_trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)


def new_trace_id() -> str:
    """A fresh 32-hex-character trace id."""
    return secrets.token_hex(16)


def current_trace_id() -> str | None:
    """The trace id of the current task, if one is set."""
    return _trace_id.get()


def set_trace_id(value: str | None) -> Token[str | None]:
    """Set the current trace id; returns a token for `reset_trace_id`."""
    return _trace_id.set(value)


def reset_trace_id(token: Token[str | None]) -> None:
    """Restore the trace id that was current before `set_trace_id`."""
    _trace_id.reset(token)


def clean_trace_id(value: str | None) -> str | None:
    """Accept a caller-supplied id only if it is short and harmless to log."""
    if value and len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value):
        return value
    return None
