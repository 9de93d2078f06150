"""From a log record to a queued error entry, on the logging caller's thread.

Nothing here waits or does I/O: a record becomes a plain `ErrorEntry` and goes into a
bounded buffer; when the buffer is full the entry is dropped and counted. Records raised
while the error log itself is writing (its own task, its own logger) are never taken, so a
failing database cannot feed the error log its own failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from core.trace import current_trace_id

OWN_LOGGER: Final = "algo.errorlog"
"""The error log reports its own trouble here; the handler never takes these records."""

MAX_MESSAGE_CHARS: Final = 8_000
MAX_EXCEPTION_CHARS: Final = 16_000
MAX_CONTEXT_CHARS: Final = 4_000

writing: ContextVar[bool] = ContextVar("errorlog_writing", default=False)
"""True inside the writer's task: records logged there are not taken (no recursion)."""

_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "trace_id", "user_id", "strategy_id", "service"})


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """One ERROR or CRITICAL record, ready for `error_logs`."""

    level: str
    service: str
    logger: str
    message: str
    created_at: datetime
    exception: str | None = None
    trace_id: str | None = None
    user_id: str | None = None
    strategy_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def critical(self) -> bool:
        """A CRITICAL record raises an admin alert."""
        return self.level == "CRITICAL"


def _short(value: object, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[:limit]


def _context(record: logging.LogRecord) -> dict[str, Any]:
    extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
    if not extras:
        return {}
    text = json.dumps(extras, default=str)
    if len(text) > MAX_CONTEXT_CHARS:
        return {"truncated": text[:MAX_CONTEXT_CHARS]}
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def entry_of(record: logging.LogRecord, service: str) -> ErrorEntry:
    """The entry of one record (message formatted, exception rendered, extras kept)."""
    exception = None
    if record.exc_info and record.exc_info[0] is not None:
        exception = "".join(traceback.format_exception(*record.exc_info))
    elif record.exc_text:
        exception = record.exc_text
    return ErrorEntry(
        level=record.levelname[:10], service=service[:32], logger=record.name[:128],
        message=_short(record.getMessage(), MAX_MESSAGE_CHARS) or "",
        created_at=datetime.fromtimestamp(record.created, UTC),
        exception=_short(exception, MAX_EXCEPTION_CHARS),
        trace_id=_short(getattr(record, "trace_id", None) or current_trace_id(), 64),
        user_id=_short(getattr(record, "user_id", None), 32),
        strategy_id=_short(getattr(record, "strategy_id", None), 32),
        context=_context(record))


class ErrorBuffer:
    """A bounded, thread-safe queue of entries with drop counters and a wake-up signal."""

    def __init__(self, service: str, *, max_size: int, batch_size: int) -> None:
        self.service = service
        self._max = max_size
        self._batch = batch_size
        self._items: deque[ErrorEntry] = deque()
        self._lock = threading.Lock()
        self._wake: Callable[[], None] | None = None
        self.taken = 0
        """Entries accepted into the buffer."""
        self.dropped = 0
        """Entries refused because the buffer was full (or could not be built)."""

    def __len__(self) -> int:
        return len(self._items)

    def on_wake(self, wake: Callable[[], None] | None) -> None:
        """Call `wake` (from any thread) when a batch is ready or a CRITICAL arrives."""
        self._wake = wake

    def offer(self, entry: ErrorEntry) -> bool:
        """Queue `entry` unless full; never blocks on I/O."""
        with self._lock:
            if len(self._items) >= self._max:
                self.dropped += 1
                return False
            self._items.append(entry)
            self.taken += 1
            ready = len(self._items) >= self._batch or entry.critical
        if ready and self._wake is not None:
            self._wake()
        return True

    def take(self, limit: int) -> list[ErrorEntry]:
        """Up to `limit` entries, oldest first."""
        with self._lock:
            return [self._items.popleft() for _ in range(min(limit, len(self._items)))]


class ErrorLogHandler(logging.Handler):
    """Root handler at ERROR: hands each record to the newest attached buffer.

    One per process however many writers run (tests run an app and pipeline roles in one
    process): a record is stored once, by the most recently started writer.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.buffers: list[ErrorBuffer] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record (skipping the error log's own records)."""
        if writing.get() or record.name.startswith(OWN_LOGGER) or not self.buffers:
            return
        buffer = self.buffers[-1]
        try:
            entry = entry_of(record, buffer.service)
        except Exception:  # noqa: BLE001 — a record that cannot be rendered is counted, not raised
            buffer.dropped += 1
            return
        buffer.offer(entry)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 — logging's name
        """Never print or raise from the logging call (emit already swallows its errors)."""

    @classmethod
    def attach(cls, buffer: ErrorBuffer) -> ErrorLogHandler:
        """Route records to `buffer`, installing the process's handler if needed."""
        root = logging.getLogger()
        handler = next((h for h in root.handlers if isinstance(h, cls)), None)
        if handler is None:
            handler = cls()
            root.addHandler(handler)
        handler.buffers.append(buffer)
        return handler

    def detach(self, buffer: ErrorBuffer) -> None:
        """Stop routing to `buffer`; the last detach removes the handler."""
        with contextlib.suppress(ValueError):
            self.buffers.remove(buffer)
        if not self.buffers:
            logging.getLogger().removeHandler(self)


def waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[], None]:
    """A function that sets `event` on `loop` from whichever thread calls it."""

    def wake() -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    return wake
