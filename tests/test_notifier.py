"""The notifier against real NATS and PostgreSQL: rows exactly once per event and user (even
across a SIGKILL mid-batch), preferences, owners' rows, admin alerts, live NOTIFICATIONs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.clock import RealClock
from core.db.enums import Role
from core.db.models import Notification
from core.embedded.stack import Endpoints
from core.events import SYSTEM_USER, EventPublisher, EventType
from core.messages import Event
from core.notification_types import Channels
from core.repos import notification_preferences, notifications, users
from core.settings import Settings
from pipeline.context import ServiceContext
from pipeline.notifier.delivery import notification_event_id
from pipeline.notifier.senders import Push, Senders
from pipeline.notifier.service import NotifierService
from tests.stubs import eventually

FILLED: dict[str, Any] = {"order_id": "ord_1", "action": "BUY", "side": "BUY",
                          "status": "FILLED", "exchange": "NSE", "symbol": "TCS",
                          "quantity": 2, "filled_quantity": 2, "fill_price": "4000.00"}


class RecordingPush:
    """A push sender that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Push] = []

    async def send(self, push: Push) -> None:
        """Record `push`."""
        self.sent.append(push)


@pytest.fixture
def pushes() -> RecordingPush:
    """The pushes sent in a test."""
    return RecordingPush()


@pytest.fixture
async def notifier(nc: NatsClient, js: JetStreamContext,
                   sessions: async_sessionmaker[AsyncSession], redis: Redis, settings: Settings,
                   pushes: RecordingPush) -> AsyncIterator[NotifierService]:
    """A running notifier in this process."""
    from core.mail import LogMailer
    ctx = ServiceContext(nc=nc, js=js, sessions=sessions, redis=redis, clock=RealClock(),
                         settings=settings, instance="test-notifier")
    service = NotifierService(ctx, Senders(LogMailer(settings.data_dir / "outbox"), pushes))
    await service.start()
    yield service
    await service.stop()


async def _user(sessions: async_sessionmaker[AsyncSession], email: str,
                role: Role = Role.USER) -> str:
    async with sessions() as session, session.begin():
        user = await users.create_user(session, email=email, password_hash="x", role=role)
    return user.id


async def _rows(sessions: async_sessionmaker[AsyncSession], **where: Any) -> list[Notification]:
    async with sessions() as session:
        query = select(Notification).filter_by(**where).order_by(Notification.id)
        return list((await session.execute(query)).scalars())


async def _notification_events(js: JetStreamContext) -> int:
    info = await js.stream_info(subjects.EVENTS, subjects_filter=subjects.events_of_type(
        EventType.NOTIFICATION.value))
    return sum((info.state.subjects or {}).values())


def _event(events: EventPublisher, user_id: str, event_type: EventType = EventType.ORDER_EXECUTED,
           **data: Any) -> Event:
    return events.build(event_type, user_id=user_id, strategy_id="str_1",
                        data=data or dict(FILLED))


async def test_an_event_becomes_one_row_and_one_live_notification(
        notifier: NotifierService, js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    alice = await _user(sessions, "alice@example.com")
    events = EventPublisher(js, RealClock())
    event = _event(events, alice)
    await events.publish(event)
    rows = await eventually(lambda: _rows(sessions, event_id=event.id), message="row")
    await eventually(lambda: _delivered(sessions, event.id), message="delivered")
    await notifier.deliverer.handle(event)  # a redelivery adds and sends nothing
    rows = await _rows(sessions, event_id=event.id)
    assert len(rows) == 1 and rows[0].type == "order_executed" and rows[0].user_id == alice
    assert await _notification_events(js) == 1
    live = await js.get_last_msg(subjects.EVENTS, f"events.{alice}.str_1.NOTIFICATION")
    body = json.loads(live.data or b"{}")
    assert body["id"] == notification_event_id(rows[0].id)
    assert body["data"]["notification_id"] == rows[0].id
    assert body["data"]["source_event_id"] == event.id


async def _delivered(sessions: async_sessionmaker[AsyncSession], event_id: str) -> bool:
    rows = await _rows(sessions, event_id=event_id)
    return bool(rows) and all(r.delivered_at is not None for r in rows)


async def test_preferences_choose_the_channels(
        notifier: NotifierService, js: JetStreamContext, settings: Settings,
        sessions: async_sessionmaker[AsyncSession], pushes: RecordingPush) -> None:
    alice = await _user(sessions, "alice@example.com")
    async with sessions() as session, session.begin():
        await notification_preferences.put(session, alice, {
            "sl_triggered": Channels(in_app=False, email=True, push=False),
            "order_executed": Channels(in_app=True, email=False, push=True)})
    events = EventPublisher(js, RealClock())
    sl = _event(events, alice, EventType.SL_TRIGGERED, kind="stop_loss", action="SL_EXIT",
                reason="stop-loss hit", exchange="NSE", symbol="TCS", level_paise=390000)
    filled = _event(events, alice)
    await events.publish(sl)
    await events.publish(filled)
    await eventually(lambda: _delivered(sessions, filled.id), message="fill delivered")
    await eventually(lambda: notifier.consumer.handled >= 2, message="both handled")
    assert await _rows(sessions, event_id=sl.id) == []  # in-app off: nothing stored
    outbox = (settings.data_dir / "outbox" / "outbox.jsonl").read_text().splitlines()
    assert [json.loads(line)["to"] for line in outbox] == ["alice@example.com"]
    assert [p.user_id for p in pushes.sent] == [alice]  # the fill, by push


async def test_owner_written_rows_are_delivered_not_duplicated(
        notifier: NotifierService, js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    alice = await _user(sessions, "alice@example.com")
    events = EventPublisher(js, RealClock())
    rejected = _event(events, alice, EventType.ORDER_REJECTED, action="BUY", status="REJECTED",
                      reason="margin")
    async with sessions() as session, session.begin():  # as the executor does, first
        await notifications.add_for_event(session, event_id=rejected.id, user_id=alice,
                                          type="order_failed", title="by the executor",
                                          body="margin")
    await events.publish(rejected)
    await eventually(lambda: _delivered(sessions, rejected.id), message="delivered")
    rows = await _rows(sessions, event_id=rejected.id)
    assert [(r.type, r.title) for r in rows] == [("order_failed", "by the executor")]
    assert await _notification_events(js) == 1


async def test_admin_alerts_reach_every_admin(
        notifier: NotifierService, js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    admins = {await _user(sessions, "a1@example.com", Role.ADMIN),
              await _user(sessions, "a2@example.com", Role.ADMIN)}
    await _user(sessions, "u@example.com")
    events = EventPublisher(js, RealClock())
    alert = events.build(EventType.ERROR, user_id=SYSTEM_USER, strategy_id=None,
                         data={"kind": "feed_stale", "message": "no ticks"})
    await events.publish(alert)
    await eventually(lambda: _delivered(sessions, alert.id), message="delivered")
    await eventually(lambda: _count(sessions, alert.id, 2), message="two rows")
    rows = await _rows(sessions, event_id=alert.id)
    assert {r.user_id for r in rows} == admins and {r.type for r in rows} == {"admin_alert"}


async def _count(sessions: async_sessionmaker[AsyncSession], event_id: str, n: int) -> bool:
    return len(await _rows(sessions, event_id=event_id)) == n


def _start(endpoints: Endpoints, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update(ALGO_ENV="dev", ALGO_DATA_DIR=str(data_dir), ALGO_NATS_URL=endpoints.nats_url,
               ALGO_DATABASE_URL=endpoints.database_url, ALGO_REDIS_URL=endpoints.redis_url,
               ALGO_NOTIFIER_BATCH="100", ALGO_NOTIFIER_ACK_WAIT_S="2",
               ALGO_LOG_LEVEL="WARNING")
    return subprocess.Popen([sys.executable, "-m", "pipeline", "notifier"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_killed_mid_batch_and_restarted_notifies_exactly_once(
        endpoints: Endpoints, tmp_path: Path, js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    people = [await _user(sessions, f"u{i}@example.com") for i in range(3)]
    events = EventPublisher(js, RealClock())
    published = [_event(events, people[i % 3]) for i in range(600)]
    for event in published:
        await events.publish(event)
    first = _start(endpoints, tmp_path)
    try:
        await eventually(lambda: _total(sessions, 30), timeout=60, message="some rows")
        first.send_signal(signal.SIGKILL)  # in the middle of a batch of 100
        first.wait(10)
        partial = await _total_rows(sessions)
        assert 0 < partial < len(published)
        second = _start(endpoints, tmp_path)
        try:
            await eventually(lambda: _total(sessions, len(published)), timeout=90,
                             message="every event notified")
            await eventually(lambda: _all_delivered(sessions), timeout=30, message="delivered")
        finally:
            second.terminate()
            second.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    async with sessions() as session:
        per_event = (await session.execute(
            select(Notification.event_id, func.count()).group_by(Notification.event_id))).all()
    assert sorted(str(e) for e, _ in per_event) == sorted(e.id for e in published)
    assert {n for _, n in per_event} == {1}
    assert await _notification_events(js) == len(published)


async def _total_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Notification))
                    ).scalar_one())


async def _total(sessions: async_sessionmaker[AsyncSession], n: int) -> bool:
    return await _total_rows(sessions) >= n


async def _all_delivered(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        left = (await session.execute(select(func.count()).select_from(Notification).where(
            Notification.delivered_at.is_(None)))).scalar_one()
    return int(left) == 0
