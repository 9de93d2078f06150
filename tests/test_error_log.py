"""The error log (ADM-4): ERROR/CRITICAL records of every process stored in batches, off the
logging caller's path; CRITICAL ones alert the admins once; a failing database is counted,
never logged into itself, and never makes a logging call wait."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext
from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.clock import RealClock
from core.db.engine import create_engine, session_factory
from core.db.enums import Role
from core.db.models import ErrorLog, Notification
from core.embedded.process import pick_port
from core.errorlog import ErrorBuffer, ErrorLogHandler, ErrorLogWriter
from core.errorlog.records import OWN_LOGGER
from core.errorlog.writer import alert_event_id
from core.events import EventPublisher
from core.messages import Event, decoder
from core.repos import notifications, users
from core.settings import Settings
from core.trace import reset_trace_id, set_trace_id
from pipeline.runner import run_roles
from tests.admin_kit import roles
from tests.stubs import eventually

log = logging.getLogger("algo.tests.errors")


@pytest.fixture
async def writer(sessions: async_sessionmaker[AsyncSession],
                 js: JetStreamContext) -> AsyncIterator[ErrorLogWriter]:
    """A writer of 50-record batches, attached to the root logger."""
    w = ErrorLogWriter(ErrorBuffer("tests", max_size=10_000, batch_size=50), sessions,
                       EventPublisher(js, RealClock()), batch_size=50, flush_s=0.2)
    w.start()
    yield w
    await w.stop()


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[ErrorLog]:
    async with sessions() as session:
        return list((await session.execute(select(ErrorLog).order_by(ErrorLog.id))).scalars())


async def test_a_burst_of_errors_is_stored_in_batches(
        writer: ErrorLogWriter, sessions: async_sessionmaker[AsyncSession]) -> None:
    token = set_trace_id("trace-burst")
    started = time.perf_counter()
    try:
        for i in range(120):
            log.error("order %s failed", i, extra={"user_id": "usr_a", "strategy_id": "str_b",
                                                   "attempt": i})
        log.warning("not an error")
        try:
            raise ValueError("bad thing")
        except ValueError:
            log.exception("with a traceback")
    finally:
        reset_trace_id(token)
    # 121 records cost the callers far less than one database round trip each.
    assert time.perf_counter() - started < 0.5
    await eventually(lambda: writer.written == 121, message="burst stored")
    assert writer.batches <= 4  # 50 + 50 + 21 at most, however the flushes fell
    rows = await _rows(sessions)
    assert len(rows) == 121
    first = rows[0]
    assert (first.level, first.service, first.logger) == ("ERROR", "tests", "algo.tests.errors")
    assert first.message == "order 0 failed"
    assert (first.trace_id, first.user_id, first.strategy_id) == ("trace-burst", "usr_a",
                                                                  "str_b")
    assert first.context == {"attempt": 0}
    assert rows[-1].exception is not None and "ValueError: bad thing" in rows[-1].exception
    assert writer.stats()["dropped"] == 0


async def test_a_critical_record_alerts_every_active_admin_once(
        writer: ErrorLogWriter, sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext) -> None:
    async with sessions() as session, session.begin():
        a = await users.create_user(session, email="a@example.com", password_hash="x",
                                    role=Role.ADMIN)
        b = await users.create_user(session, email="b@example.com", password_hash="x",
                                    role=Role.ADMIN)
        off = await users.create_user(session, email="c@example.com", password_hash="x",
                                      role=Role.ADMIN)
        await users.update_user(session, off.id, role=None, is_active=False)
        await users.create_user(session, email="t@example.com", password_hash="x")
    log.critical("executor lost its database", extra={"strategy_id": "str_z"})
    await eventually(lambda: writer.alerts == 1, message="alert published")
    [row] = await _rows(sessions)
    event_id = alert_event_id(row.id)
    msg = await js.get_last_msg(subjects.EVENTS, "events.system.-.ERROR")
    event = decoder(Event).decode(msg.data or b"")
    assert event.id == event_id
    assert (msg.headers or {})[subjects.MSG_ID_HEADER] == event_id
    assert event.data["kind"] == "critical_log"
    assert event.data["error_log_id"] == row.id
    assert event.data["message"] == "executor lost its database"
    async with sessions() as session:
        stored = list((await session.execute(select(Notification).order_by(
            Notification.user_id))).scalars())
    assert sorted(n.user_id for n in stored) == sorted([a.id, b.id])
    assert {(n.event_id, n.type) for n in stored} == {(event_id, "admin_alert")}
    # The notifier, seeing the event, writes under the same key: nothing new.
    async with sessions() as session, session.begin():
        assert not await notifications.add_for_event(
            session, event_id=event_id, user_id=a.id, type="admin_alert", title="t", body="b")


async def test_a_failing_database_neither_recurses_nor_blocks(
        js: JetStreamContext, caplog: pytest.LogCaptureFixture) -> None:
    dead = create_engine(f"postgresql+asyncpg://algo:x@127.0.0.1:{pick_port(0)}/algo",
                         pool_size=1, max_overflow=0)
    w = ErrorLogWriter(ErrorBuffer("tests", max_size=10_000, batch_size=5),
                       session_factory(dead), EventPublisher(js, RealClock()), batch_size=5,
                       flush_s=0.05, write_timeout_s=1.0)
    w.start()
    try:
        started = time.perf_counter()
        for i in range(5):
            log.error("first %s", i)
        log.critical("critical too")
        assert time.perf_counter() - started < 0.1
        await eventually(lambda: w.failed_batches >= 2, timeout=10, message="writes failed")
        logging.getLogger(OWN_LOGGER).error("the error log's own trouble")
        await asyncio.sleep(0.3)  # let the writer fail and back off a few more times
        stats = w.stats()
        # Only the six records logged by the test were ever taken: none of the failures
        # (logged by the writer, or by the driver inside it) came back as records.
        assert stats["taken"] == 6
        assert stats["lost"] == 6
        assert stats["written"] == 0 and stats["alerts"] == 0
        assert any("error log batch not stored" in r.getMessage() for r in caplog.records)
    finally:
        await w.stop(timeout_s=1.0)
        await dead.dispose()


async def test_a_full_buffer_drops_and_counts() -> None:
    buffer = ErrorBuffer("tests", max_size=10, batch_size=1000)
    handler = ErrorLogHandler.attach(buffer)
    try:
        for i in range(25):
            log.error("spam %s", i)
    finally:
        handler.detach(buffer)
    assert (buffer.taken, buffer.dropped, len(buffer)) == (10, 15, 10)
    assert not any(isinstance(h, ErrorLogHandler) for h in logging.getLogger().handlers)


async def test_the_web_app_stores_its_errors_and_serves_them_filtered(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = await roles(client, sessions)
    headers = accounts.admin_headers
    t0 = datetime.now(UTC)
    token = set_trace_id("trace-web")
    try:
        log.error("first", extra={"user_id": "usr_one", "strategy_id": "str_one"})
    finally:
        reset_trace_id(token)
    log.critical("second", extra={"user_id": "usr_two"})

    await eventually(lambda: _count(sessions, 2), message="both stored")

    async def messages(query: str) -> list[str]:
        response = await client.get(f"/admin/logs/errors{query}", headers=headers)
        assert response.status_code == 200, await response.get_data()
        return [e["message"] for e in (await response.get_json())["items"]]

    assert await messages("") == ["second", "first"]
    assert await messages("?level=CRITICAL") == ["second"]
    assert await messages("?service=web") == ["second", "first"]
    assert await messages("?service=executor") == []
    assert await messages("?user_id=usr_one") == ["first"]
    assert await messages("?strategy_id=str_one") == ["first"]
    assert await messages("?trace_id=trace-web") == ["first"]
    since = t0.isoformat().replace("+00:00", "Z")
    assert await messages(f"?since={since}") == ["second", "first"]
    assert await messages(f"?until={since}") == []
    page = await (await client.get("/admin/logs/errors?limit=1", headers=headers)).get_json()
    assert [e["message"] for e in page["items"]] == ["second"]
    rest = await messages(f"?limit=1&cursor={page['next_cursor']}")
    assert rest == ["first"]
    bad = await client.get("/admin/logs/errors?level=INFO", headers=headers)
    assert bad.status_code == 422


async def _count(sessions: async_sessionmaker[AsyncSession], n: int) -> bool:
    async with sessions() as session:
        return int((await session.execute(
            select(func.count()).select_from(ErrorLog))).scalar_one()) == n


async def test_pipeline_roles_store_their_errors(
        settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_roles(["notifier"], settings, stop=stop))
    try:
        await eventually(lambda: any(isinstance(h, ErrorLogHandler)
                                     for h in logging.getLogger().handlers),
                         message="handler installed")
        log.error("from the pipeline")
        await eventually(lambda: _count(sessions, 1), timeout=10, message="pipeline error")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)
    [row] = await _rows(sessions)
    assert (row.service, row.message) == ("notifier", "from the pipeline")
    assert not any(isinstance(h, ErrorLogHandler) for h in logging.getLogger().handlers)
