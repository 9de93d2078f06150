"""Server-Sent Events: the wire parser (one `text/event-stream` line at a time)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One dispatched event of the admin stream (`data` is the event envelope)."""

    id: int | None
    type: str
    data: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        """The envelope's own `data` object (the type-specific fields)."""
        inner = self.data.get("data")
        return inner if isinstance(inner, dict) else {}


@dataclass(slots=True)
class SseParser:
    """Feeds lines, returns an event at each blank line; remembers `retry:`."""

    retry_ms: int | None = None
    _fields: dict[str, str] = field(default_factory=dict)
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> ServerEvent | None:
        """One line without its end; an event when `line` ends one, else None."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: `: connected`, `: heartbeat`
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        elif name in ("id", "event"):
            self._fields[name] = value
        return None

    def _dispatch(self) -> ServerEvent | None:
        fields, data = self._fields, self._data
        self._fields, self._data = {}, []
        if not data:
            return None
        try:
            body = json.loads("\n".join(data))
        except json.JSONDecodeError:
            body = {"raw": "\n".join(data)}
        raw_id = fields.get("id", "")
        return ServerEvent(int(raw_id) if raw_id.isdigit() else None,
                           fields.get("event", "message"),
                           body if isinstance(body, dict) else {"value": body})
