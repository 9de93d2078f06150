"""The error log's writer: a background task that stores queued entries in batches.

It runs in its own task with `records.writing` set, so whatever it logs (its own failures,
the driver's) is never fed back into the error log. A batch that cannot be written is
dropped and counted, and the writer backs off: the database being down must not turn into
a storm of retries, and logging callers never wait for any of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.aio import cancel_and_wait
from core.clock import Clock
from core.errorlog.records import OWN_LOGGER, ErrorBuffer, ErrorEntry, ErrorLogHandler, waker
from core.errorlog.records import writing as _writing
from core.events import SYSTEM_USER, EventPublisher, EventType
from core.ids import derived_id
from core.notification_types import NotificationType
from core.repos import error_logs, notifications, users
from core.settings import Settings

log = logging.getLogger(OWN_LOGGER)

ALERT_KIND: Final = "critical_log"
MAX_BACKOFF_S: Final = 30.0


def alert_event_id(error_log_id: int) -> str:
    """The id of the admin alert of one stored CRITICAL record (and of its notifications),
    fixed by the record's id so that the alert exists once."""
    return derived_id("evt", "error_log", str(error_log_id))


def _row(entry: ErrorEntry) -> dict[str, Any]:
    return {"level": entry.level, "service": entry.service, "logger": entry.logger,
            "message": entry.message, "exception": entry.exception,
            "trace_id": entry.trace_id, "user_id": entry.user_id,
            "strategy_id": entry.strategy_id, "context": entry.context,
            "created_at": entry.created_at}


class ErrorLogWriter:
    """Drains an `ErrorBuffer` into `error_logs`; CRITICAL entries alert the admins."""

    def __init__(self, buffer: ErrorBuffer, sessions: async_sessionmaker[AsyncSession],
                 events: EventPublisher | None, *, batch_size: int, flush_s: float,
                 write_timeout_s: float = 5.0) -> None:
        self.buffer = buffer
        self._sessions = sessions
        self._events = events
        self._batch = batch_size
        self._flush_s = flush_s
        self._timeout = write_timeout_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._handler: ErrorLogHandler | None = None
        self._failures = 0
        self.written = 0
        self.batches = 0
        self.lost = 0
        """Entries taken but never stored (their batch failed)."""
        self.failed_batches = 0
        self.alerts = 0
        self.failed_alerts = 0

    def stats(self) -> dict[str, int]:
        """Counters, for health and metrics."""
        return {"queued": len(self.buffer), "taken": self.buffer.taken,
                "dropped": self.buffer.dropped, "written": self.written,
                "batches": self.batches, "lost": self.lost,
                "failed_batches": self.failed_batches, "alerts": self.alerts,
                "failed_alerts": self.failed_alerts}

    def start(self) -> None:
        """Attach to the root logger and start the writer task."""
        self.buffer.on_wake(waker(asyncio.get_running_loop(), self._wake))
        self._handler = ErrorLogHandler.attach(self.buffer)
        self._task = asyncio.create_task(self._run(), name="errorlog-writer")

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Detach, then write what is queued (for at most `timeout_s`)."""
        if self._handler is not None:
            self._handler.detach(self.buffer)
            self._handler = None
        self.buffer.on_wake(None)
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        token = _writing.set(True)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain(), timeout_s)
        finally:
            _writing.reset(token)

    async def flush(self) -> None:
        """Write everything queued now (tests and shutdown)."""
        token = _writing.set(True)
        try:
            await self._drain()
        finally:
            _writing.reset(token)

    async def _run(self) -> None:
        _writing.set(True)  # this task's own context only
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_s)
            self._wake.clear()
            try:
                await self._drain()
            except Exception as exc:  # noqa: BLE001 — the writer must outlive any surprise
                log.warning("error log writer: %s", exc)
            if self._failures:
                await asyncio.sleep(min(self._flush_s * 2 ** self._failures, MAX_BACKOFF_S))

    async def _drain(self) -> None:
        while len(self.buffer):
            batch = self.buffer.take(self._batch)
            try:
                ids = await asyncio.wait_for(self._write(batch), self._timeout)
            except Exception as exc:  # noqa: BLE001 — anything: count it, never re-log it here
                self._failures = min(self._failures + 1, 8)
                self.failed_batches += 1
                self.lost += len(batch)
                log.warning("error log batch not stored (%s records lost): %s", len(batch),
                            exc, extra={"lost_total": self.lost})
                return
            self._failures = 0
            self.batches += 1
            self.written += len(batch)
            await self._announce(batch, ids)

    async def _write(self, batch: list[ErrorEntry]) -> list[int]:
        async with self._sessions() as session, session.begin():
            ids = await error_logs.add_many(session, [_row(e) for e in batch])
            critical = [(i, e) for i, e in zip(ids, batch, strict=True) if e.critical]
            if critical and self._events is not None:
                admins = await users.active_admin_ids(session)
                for error_id, entry in critical:
                    for admin_id in admins:
                        await notifications.add_for_event(
                            session, event_id=alert_event_id(error_id), user_id=admin_id,
                            type=NotificationType.ADMIN_ALERT.value,
                            title=f"Platform alert: {ALERT_KIND}",
                            body=f"{entry.service}: {entry.message}"[:2000],
                            data={"kind": ALERT_KIND, "error_log_id": error_id,
                                  "service": entry.service, "trace_id": entry.trace_id})
        return ids

    async def _announce(self, batch: list[ErrorEntry], ids: list[int]) -> None:
        if self._events is None:
            return
        for error_id, entry in zip(ids, batch, strict=True):
            if not entry.critical:
                continue
            event = self._events.build(
                EventType.ERROR, user_id=SYSTEM_USER, strategy_id=None,
                event_id=alert_event_id(error_id),
                data={"kind": ALERT_KIND, "message": entry.message[:1000],
                      "service": entry.service, "logger": entry.logger,
                      "error_log_id": error_id, "trace_id": entry.trace_id,
                      "user_id": entry.user_id, "strategy_id": entry.strategy_id})
            try:
                await asyncio.wait_for(self._events.publish(event), self._timeout)
            except Exception as exc:  # noqa: BLE001 — the record and notifications are stored
                self.failed_alerts += 1
                log.warning("admin alert not published: %s", exc,
                            extra={"error_log_id": error_id})
            else:
                self.alerts += 1


def start_error_log(service: str, sessions: async_sessionmaker[AsyncSession],
                    js: JetStreamContext | None, clock: Clock,
                    settings: Settings) -> ErrorLogWriter:
    """Persist this process's ERROR/CRITICAL records from now on (call inside the loop)."""
    buffer = ErrorBuffer(service, max_size=settings.error_log_queue_size,
                         batch_size=settings.error_log_batch_size)
    writer = ErrorLogWriter(buffer, sessions,
                            EventPublisher(js, clock) if js is not None else None,
                            batch_size=settings.error_log_batch_size,
                            flush_s=settings.error_log_flush_s)
    writer.start()
    return writer
