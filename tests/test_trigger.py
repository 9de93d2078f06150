"""The trigger service against real NATS, Redis and PostgreSQL, on a fake clock.

Strategies are made and changed through StrategyService, so the runtime records in Redis
and the STRATEGY_* events are the real ones. 25 Nov 2026 is a trading day, 24 Nov 2026 an
NSE holiday, 28 Nov 2026 a Saturday. A check that something did NOT fire waits for a later
"probe" command instead of sleeping: the scheduler fires in time order. The clock is moved
to each entry's time in turn: a jump far past an entry is, to the trigger, a stall longer
than the grace period, and is reported as missed (see the last test).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys, subjects
from core.clock import IST, FakeClock
from core.crypto import SecretBox
from core.db.enums import StopLossType
from core.db.models import BrokerCredential, Notification, Strategy
from core.embedded.stack import Endpoints
from core.events import EventPublisher
from core.ids import new_id
from core.messages import Event, OrderCommand, decoder
from core.repos import users
from core.settings import Settings
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import PAPER, Limits, StrategySpec
from core.trace import TRACE_HEADER
from pipeline.context import ServiceContext
from pipeline.trigger.service import TriggerService
from tests.conftest import make_settings
from tests.stubs import eventually

TRADING_DAY = date(2026, 11, 25)
HOLIDAY = date(2026, 11, 24)
SATURDAY = date(2026, 11, 28)
_command = decoder(OrderCommand)
_event = decoder(Event)


def ist(hh: int, mm: int, ss: int = 0, day: date = TRADING_DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=IST)


def ns(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000_000)


@dataclass
class Stored:
    """One message as the stream holds it."""

    subject: str
    headers: dict[str, str]
    data: bytes


@dataclass
class World:
    """A user, a strategy service and trigger replicas on one fake clock."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    nc: NatsClient
    js: JetStreamContext
    clock: FakeClock
    user_id: str = ""
    strategies: StrategyService = field(init=False)
    triggers: list[TriggerService] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.strategies = StrategyService(
            self.sessions, self.redis, EventPublisher(self.js, self.clock), self.clock,
            Limits(max_quantity=self.settings.max_quantity, max_stop_loss_pct=Decimal(20),
                   max_trailing_sl_pct=Decimal(20),
                   paper_always_open=self.settings.paper_always_open))

    async def add_user(self) -> str:
        async with self.sessions() as session, session.begin():
            user = await users.create_user(session, email=f"{new_id('usr')}@example.com",
                                           password_hash="x")
        self.user_id = user.id
        return user.id

    async def add_broker(self) -> str:
        """A logged-in Zerodha connection (the readiness gate lets its BUYs through)."""
        box = SecretBox(self.settings.encryption_key_map)
        async with self.sessions() as session, session.begin():
            credential = BrokerCredential(
                id=new_id("brk"), user_id=self.user_id, broker_type="zerodha", is_valid=True,
                encrypted_access_token=box.seal("token", owner=self.user_id),
                key_id=box.current_key_id, token_expires_at=ist(6, 0, day=date(2027, 1, 1)))
            session.add(credential)
        return credential.id

    def spec(self, buy: time, sell: time, broker: str = PAPER) -> StrategySpec:
        return StrategySpec(exchange="NSE", symbol="INFY", buy_time=buy, sell_time=sell,
                            stop_loss_type=StopLossType.PERCENT, stop_loss_value=Decimal(1),
                            quantity=2, broker=broker)

    async def running(self, buy: time = time(9, 30), sell: time = time(9, 45),
                      broker: str = PAPER) -> Strategy:
        row = await self.strategies.create(self.user_id, "s", self.spec(buy, sell, broker))
        return await self.strategies.start(self.user_id, row.id)

    async def trigger(self, instance: str = "t1") -> TriggerService:
        service = TriggerService(ServiceContext(
            nc=self.nc, js=self.js, sessions=self.sessions, redis=self.redis, clock=self.clock,
            settings=self.settings, instance=instance))
        await service.start()
        self.triggers.append(service)
        return service

    async def stop(self, service: TriggerService) -> None:
        self.triggers.remove(service)
        await service.stop()

    async def stored(self, stream: str) -> list[Stored]:
        info = await self.js.stream_info(stream)
        found: list[Stored] = []
        if not info.state.messages:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            raw = await self.js.get_msg(stream, seq)
            assert raw.subject is not None and raw.data is not None
            found.append(Stored(raw.subject, dict(raw.headers or {}), raw.data))
        return found

    async def commands(self) -> list[tuple[Stored, OrderCommand]]:
        return [(m, _command.decode(m.data)) for m in await self.stored(subjects.COMMANDS)]

    async def command_count(self) -> int:
        return int((await self.js.stream_info(subjects.COMMANDS)).state.messages)

    async def wait_commands(self, count: int) -> list[tuple[Stored, OrderCommand]]:
        async def enough() -> list[tuple[Stored, OrderCommand]] | None:
            found = await self.commands()
            assert len(found) <= count, f"more commands than {count}: {found}"
            return found if len(found) == count else None
        result: list[tuple[Stored, OrderCommand]] = await eventually(
            enough, timeout=10, message=f"{count} command(s)")
        return result

    async def errors(self) -> list[Event]:
        return [_event.decode(m.data) for m in await self.stored(subjects.EVENTS)
                if m.subject.endswith(".ERROR")]


def fired_at(commands: list[tuple[Stored, OrderCommand]]) -> list[tuple[str, str, str, int]]:
    return [(c.strategy_id, c.trading_day, c.action, c.issued_at) for _, c in commands]


@pytest.fixture
async def world_factory(endpoints: Endpoints, tmp_path: Path, settings: Settings,
                        sessions: async_sessionmaker[AsyncSession], redis: Redis,
                        nc: NatsClient, js: JetStreamContext) -> AsyncIterator[Any]:
    """Builds worlds starting at a chosen IST instant; stops their triggers afterwards."""
    worlds: list[World] = []

    async def build(start: datetime, *, paper_always_open: bool = False) -> World:
        # No probe of a real broker's API from these tests (tests/test_readiness_gate.py).
        chosen = make_settings(endpoints, tmp_path, trigger_probe_lead_s=0)
        if paper_always_open:  # a dev-only switch: refused in the test environment
            chosen = make_settings(endpoints, tmp_path, env="dev", bcrypt_rounds=12,
                                   paper_always_open=True, trigger_probe_lead_s=0)
        world = World(chosen, sessions, redis, nc, js, FakeClock(start))
        await world.add_user()
        worlds.append(world)
        return world

    yield build
    for world in worlds:
        for service in list(world.triggers):
            await world.stop(service)


async def test_buy_and_sell_fire_at_their_times(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    strategy = await world.running()
    trigger = await world.trigger()
    assert trigger.next_fire_at() == ist(9, 30)
    assert trigger.strategies == 1

    await world.clock.set(ist(9, 30))
    [(stored, command)] = await world.wait_commands(1)
    assert stored.subject == subjects.order_command(world.user_id, strategy.id)
    assert stored.headers[subjects.MSG_ID_HEADER] == f"{strategy.id}:2026-11-25:BUY"
    assert len(stored.headers[TRACE_HEADER]) == 32
    assert command == OrderCommand(user_id=world.user_id, strategy_id=strategy.id,
                                   trading_day="2026-11-25", action="BUY", reason="schedule",
                                   issued_at=ns(ist(9, 30)), rev=strategy.rev)
    await eventually(lambda: world.redis.sismember(redis_keys.trigger_fired("2026-11-25"),
                                                   f"{strategy.id}:BUY"))
    assert trigger.next_fire_at() == ist(9, 45)

    await world.clock.set(ist(9, 45))
    sell = (await world.wait_commands(2))[1]
    assert sell[0].headers[subjects.MSG_ID_HEADER] == f"{strategy.id}:2026-11-25:SELL"
    assert fired_at([sell]) == [(strategy.id, "2026-11-25", "SELL", ns(ist(9, 45)))]
    await eventually(lambda: trigger.fired == 2)
    assert await world.redis.ttl(redis_keys.trigger_fired("2026-11-25")) > 2 * 24 * 3600
    assert trigger.missed == 0


async def test_no_trigger_on_a_holiday_then_the_next_day(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29, day=HOLIDAY))
    real = await world.running(broker=await world.add_broker())
    trigger = await world.trigger()
    assert trigger.strategies == 1
    assert trigger.next_fire_at() is None

    # The whole holiday passes; just after midnight the trading day is scheduled.
    await world.clock.set(ist(0, 0, 1))
    await eventually(lambda: trigger.next_fire_at() == ist(9, 30))
    await world.clock.set(ist(9, 30))
    assert fired_at(await world.wait_commands(1)) == [
        (real.id, "2026-11-25", "BUY", ns(ist(9, 30)))]


async def test_paper_always_open_trades_on_a_weekend(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29, day=SATURDAY), paper_always_open=True)
    await world.running(broker=await world.add_broker())  # a real broker: not on Saturday
    paper = await world.running(buy=time(9, 30), sell=time(9, 45))
    trigger = await world.trigger()
    assert trigger.next_fire_at() == ist(9, 30, day=SATURDAY)

    await world.clock.set(ist(9, 30, day=SATURDAY))
    await world.wait_commands(1)
    await world.clock.set(ist(9, 45, day=SATURDAY))
    commands = await world.wait_commands(2)
    assert sorted((c.strategy_id, c.trading_day, c.action) for _, c in commands) == [
        (paper.id, "2026-11-28", "BUY"), (paper.id, "2026-11-28", "SELL")]


async def test_started_after_its_buy_time_skips_that_buy(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    trigger = await world.trigger()
    await world.clock.set(ist(9, 31))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45))
    await eventually(lambda: trigger.next_fire_at() == ist(9, 45))

    # And a restarted trigger (snapshot path) agrees.
    await world.stop(trigger)
    trigger = await world.trigger("t2")
    assert trigger.next_fire_at() == ist(9, 45)

    await world.clock.set(ist(9, 45))
    assert fired_at(await world.wait_commands(1)) == [
        (strategy.id, "2026-11-25", "SELL", ns(ist(9, 45)))]
    assert trigger.missed == 0
    assert await world.errors() == []


async def test_an_update_moves_the_trigger(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45))
    trigger = await world.trigger()
    await world.strategies.update(world.user_id, strategy.id, {"buy_time": time(9, 35)})
    await eventually(lambda: trigger.next_fire_at() == ist(9, 35))

    await world.clock.set(ist(9, 35))
    [(_, command)] = await world.wait_commands(1)
    # One BUY, at the new time: had the old 09:30 entry fired, it would have come first.
    assert (command.action, command.issued_at, command.rev) == ("BUY", ns(ist(9, 35)),
                                                                strategy.rev + 1)
    assert trigger.fired == 1


async def test_stop_removes_the_strategy(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    stopped = await world.running(buy=time(9, 30), sell=time(9, 45))
    probe = await world.running(buy=time(9, 40), sell=time(9, 50))
    trigger = await world.trigger()
    await world.strategies.stop(world.user_id, stopped.id)
    await eventually(lambda: trigger.next_fire_at() == ist(9, 40))
    assert trigger.strategies == 1

    await world.clock.set(ist(9, 40))
    assert [c.strategy_id for _, c in await world.wait_commands(1)] == [probe.id]


async def test_restart_inside_the_grace_period_fires_once(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    strategy = await world.running()
    await world.clock.set(ist(9, 30, 30))  # no trigger running at 09:30
    first = await world.trigger()
    assert fired_at(await world.wait_commands(1)) == [
        (strategy.id, "2026-11-25", "BUY", ns(ist(9, 30, 30)))]
    await eventually(lambda: world.redis.sismember(redis_keys.trigger_fired("2026-11-25"),
                                                   f"{strategy.id}:BUY"))

    # Restarted again: the fired mark says the BUY is done; it is not even re-published.
    await world.stop(first)
    await world.clock.set(ist(9, 30, 50))
    again = await world.trigger("t2")
    assert again.next_fire_at() == ist(9, 45)
    await world.clock.set(ist(9, 45))
    assert [c.action for _, c in await world.wait_commands(2)] == ["BUY", "SELL"]
    await eventually(lambda: again.fired == 1)


async def test_a_recorded_fire_is_not_fired_after_a_restart(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    strategy = await world.running()
    await world.redis.sadd(redis_keys.trigger_fired("2026-11-25"), f"{strategy.id}:BUY")
    await world.clock.set(ist(9, 30, 10))
    trigger = await world.trigger()
    assert trigger.next_fire_at() == ist(9, 45)
    await world.clock.set(ist(9, 45))
    assert [c.action for _, c in await world.wait_commands(1)] == ["SELL"]
    assert trigger.fired == 1 and trigger.missed == 0


async def test_restart_past_the_grace_period_reports_missed_once(
        world_factory: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
    world: World = await world_factory(ist(9, 29))
    strategy = await world.running()
    await world.clock.set(ist(9, 32))  # 120 s late, the grace period is 60 s
    replicas = [await world.trigger("t1"), await world.trigger("t2")]
    assert [t.missed for t in replicas] == [1, 1]

    [error] = await eventually(world.errors, message="the missed-trigger event")
    assert (error.user_id, error.strategy_id, error.rev) == (world.user_id, strategy.id,
                                                             strategy.rev)
    assert error.data["kind"] == "trigger_missed"
    assert (error.data["action"], error.data["trading_day"]) == ("BUY", "2026-11-25")
    assert error.data["scheduled_at"] == ist(9, 30).isoformat()
    assert error.data["late_s"] == 120
    assert "No order was placed" in error.data["message"]

    async with sessions() as session:
        rows = (await session.execute(select(Notification))).scalars().all()
    assert [(n.user_id, n.type, n.title, n.event_id) for n in rows] == [
        (world.user_id, "trigger_missed", "Missed BUY — NSE:INFY", error.id)]
    assert rows[0].data["strategy_id"] == strategy.id

    await world.clock.set(ist(9, 45))  # the SELL still fires (once, from two replicas)
    assert [c.action for _, c in await world.wait_commands(1)] == ["SELL"]
    assert len(await world.errors()) == 1
    assert await world.redis.smembers(redis_keys.trigger_missed("2026-11-25")) == {
        f"{strategy.id}:BUY"}


async def test_two_replicas_make_one_command_each(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    strategy = await world.running()
    replicas = [await world.trigger("t1"), await world.trigger("t2")]
    await world.clock.set(ist(9, 30))
    await eventually(lambda: [t.fired for t in replicas] == [1, 1])
    assert await world.command_count() == 1
    await world.clock.set(ist(9, 45))
    await eventually(lambda: [t.fired for t in replicas] == [2, 2])
    assert await world.command_count() == 2
    assert sorted(m.headers[subjects.MSG_ID_HEADER] for m, _ in await world.commands()) == [
        f"{strategy.id}:2026-11-25:BUY", f"{strategy.id}:2026-11-25:SELL"]


async def test_a_thousand_strategies_at_one_instant(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    async with world.sessions() as session, session.begin():
        rows = [Strategy(id=new_id("str"), user_id=world.user_id, name=f"s{i}",
                         exchange="NSE", symbol="INFY", buy_time=time(9, 30),
                         sell_time=time(9, 45), stop_loss_type="PERCENT",
                         stop_loss_value=Decimal(1), quantity=1, status="CREATED",
                         position="NONE", rev=0, is_simulated=False) for i in range(1000)]
        session.add_all(rows)
    ids = [row.id for row in rows]
    # Half are running before the trigger starts (snapshot), half start after (events).
    assert not (await world.strategies.start_many(world.user_id, ids[:500])).failed
    trigger = await world.trigger()
    assert trigger.strategies == 500
    assert not (await world.strategies.start_many(world.user_id, ids[500:])).failed
    await eventually(lambda: trigger.strategies == 1000, timeout=10)

    await world.clock.set(ist(9, 30))
    await eventually(lambda: trigger.fired == 1000, timeout=20, message="1000 fires")
    assert await world.command_count() == 1000
    fired = redis_keys.trigger_fired("2026-11-25")
    await eventually(lambda: world.redis.scard(fired), message="fired marks")
    assert await world.redis.scard(fired) == 1000


async def test_a_stall_past_the_grace_period_is_missed_not_fired(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    strategy = await world.running()
    trigger = await world.trigger()
    # The scheduler gets to run only at 09:45 (as if the process had been frozen): the BUY
    # is 15 min late and is reported, the SELL is on time.
    await world.clock.set(ist(9, 45))
    assert fired_at(await world.wait_commands(1)) == [
        (strategy.id, "2026-11-25", "SELL", ns(ist(9, 45)))]
    [error] = await eventually(world.errors, message="the missed-trigger event")
    assert (error.data["action"], error.data["late_s"]) == ("BUY", 900)
    assert trigger.missed == 1
