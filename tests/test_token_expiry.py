"""The daily token check (BRK-9): expired sessions marked invalid, one `token_expiry`
notification per connection and day however often it runs, run by the trigger at 08:30 IST
on trading days."""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.clock import FakeClock
from core.connections import vault
from core.connections.expiry import check_tokens, feed_alert_id, notice_id
from core.crypto import SecretBox
from core.db.enums import Role
from core.db.models import BrokerCredential, Notification
from core.events import EventPublisher
from core.ids import new_id
from core.messages import Event, decoder
from core.repos import users
from tests.stubs import eventually
from tests.test_readiness_gate import connection
from tests.test_trigger import HOLIDAY, TRADING_DAY, World, ist
from tests.test_trigger import world_factory as world_factory  # the fixture

_event = decoder(Event)


async def _notifications(sessions: async_sessionmaker[AsyncSession]) -> list[Notification]:
    async with sessions() as session:
        return list((await session.execute(select(Notification).order_by(Notification.id))
                     ).scalars())


async def _notices(js: JetStreamContext) -> list[Event]:
    info = await js.stream_info(subjects.EVENTS)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) \
            if info.state.messages else []:
        raw = await js.get_msg(subjects.EVENTS, seq)
        if raw.subject and raw.subject.endswith(".NOTIFICATION") and raw.data:
            found.append(_event.decode(raw.data))
    return found


async def test_expired_tokens_are_marked_and_notified_once(
        world_factory: Any, sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext) -> None:
    world: World = await world_factory(ist(8, 30))
    expired = await connection(world, expires_at=ist(6, 0))
    refused = await connection(world, valid=False, api_key="k2")
    healthy = await connection(world, api_key="k3")
    dies_midday = await connection(world, expires_at=ist(12, 0), api_key="k4")
    clock = FakeClock(ist(8, 30))
    events = EventPublisher(js, clock)

    first = await check_tokens(sessions, events, clock, TRADING_DAY, close_at=ist(15, 30))
    assert (first.marked, first.notified) == (1, 3)
    async with sessions() as session:
        rows = {r.id: r for r in (await session.execute(select(BrokerCredential))).scalars()}
    assert (rows[expired].is_valid, rows[expired].status_reason) == (False, "token_expired")
    assert rows[healthy].is_valid and rows[dies_midday].is_valid  # still usable now

    again = await check_tokens(sessions, events, clock, TRADING_DAY, close_at=ist(15, 30))
    assert (again.marked, again.notified) == (0, 0)
    notes = await _notifications(sessions)
    assert sorted(n.data["credential_id"] for n in notes) == sorted([expired, refused,
                                                                     dies_midday])
    assert {n.type for n in notes} == {"token_expiry"}
    assert {n.event_id for n in notes} == {notice_id(c, TRADING_DAY)
                                          for c in (expired, refused, dies_midday)}
    by_id = {n.data["credential_id"]: n for n in notes}
    assert "expired at 06:00 IST" in by_id[expired].body
    assert "expires at 12:00 IST today" in by_id[dies_midday].body
    published = await _notices(js)
    assert len(published) == 3  # the rerun's events were dropped by the stream
    assert all(e.data["kind"] == "token_expiry" for e in published)


async def test_the_trigger_runs_the_check_at_0830_on_trading_days(
        world_factory: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
    world: World = await world_factory(ist(23, 0, day=HOLIDAY))
    credential = await connection(world, expires_at=ist(6, 0, day=HOLIDAY))
    await world.trigger()
    await world.clock.set(ist(8, 29))
    assert await _notifications(sessions) == []  # nothing on the holiday, nor before 08:30
    await world.clock.set(ist(8, 30))
    [note] = await eventually(lambda: _notifications(sessions), message="the notice")
    assert (note.type, note.data["credential_id"], note.data["trading_day"]) == (
        "token_expiry", credential, TRADING_DAY.isoformat())
    await world.stop(world.triggers[0])
    await world.trigger("t2")  # a restart the same day adds nothing
    await world.clock.advance(5)
    assert len(await _notifications(sessions)) == 1


async def test_self_login_sessions_are_not_marked_nor_notified(
        world_factory: Any, sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext) -> None:
    """Angel One's adapter logs in again by itself: its expired session is no reason to ask
    its user to log in (a refused one still is)."""
    world: World = await world_factory(ist(8, 30))
    box = SecretBox(world.settings.encryption_key_map)
    ids: list[str] = []
    for reason in (None, "rejected_by_broker"):
        async with sessions() as session, session.begin():
            row = BrokerCredential(id=new_id("brk"), user_id=world.user_id,
                                   broker_type="angel_one", client_id=f"A{len(ids)}",
                                   is_valid=reason is None, status_reason=reason,
                                   token_expires_at=ist(6, 0))
            vault.seal(box, row, {"api_key": "k", "client_id": "A1", "pin": "1234",
                                  "totp_secret": "JBSWY3DPEHPK3PXP"}, "jwt")
            session.add(row)
        ids.append(row.id)
    expired, refused = ids
    clock = FakeClock(ist(8, 30))
    report = await check_tokens(sessions, EventPublisher(js, clock), clock, TRADING_DAY,
                                close_at=ist(15, 30))
    assert (report.marked, report.notified) == (0, 1)
    async with sessions() as session:
        found = await session.get(BrokerCredential, expired)
    assert found is not None and found.is_valid
    assert [n.data["credential_id"] for n in await _notifications(sessions)] == [refused]


async def test_a_dead_market_data_connection_alerts_every_admin_once(
        world_factory: Any, sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext) -> None:
    world: World = await world_factory(ist(8, 30))
    feed = await connection(world, expires_at=ist(6, 0))
    async with sessions() as session, session.begin():
        admins = [(await users.create_user(session, email=f"admin{i}@example.com",
                                           password_hash="x", role=Role.ADMIN)).id
                  for i in range(2)]
    clock = FakeClock(ist(8, 30))
    events = EventPublisher(js, clock)
    for _ in range(2):  # a rerun (or a second replica) adds nothing
        await check_tokens(sessions, events, clock, TRADING_DAY, close_at=ist(15, 30),
                           feed_credential_id=feed)
    alerts = [n for n in await _notifications(sessions) if n.type == "admin_alert"]
    assert sorted(n.user_id for n in alerts) == sorted(admins)
    assert {n.event_id for n in alerts} == {feed_alert_id(feed, TRADING_DAY)}
    assert all(feed in n.body and "ALGO_FEED_BROKER_CREDENTIAL" in n.body for n in alerts)
    owner = [n for n in await _notifications(sessions) if n.user_id == world.user_id]
    assert [n.type for n in owner] == ["token_expiry"]  # the owner is told too
