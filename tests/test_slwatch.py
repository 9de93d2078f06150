"""The SL watcher against real NATS, Redis and PostgreSQL, with the executor in process.

Positions are bought through the real path (command → executor → paper broker), so the
runtime records and ORDER_* events are the real ones. Ticks of one subject are checked in
order, so "this tick did nothing" is shown by a later tick that must trigger and by the
SL_TRIGGERED events naming the tick (its LTP) that fired each exit.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.paper.faults import FaultMode, PaperFaults
from core import subjects
from core.clock import FakeClock
from core.db.enums import OrderAction, OrderStatus, Position, StopLossType
from core.db.models import Strategy
from core.embedded.stack import Endpoints
from core.events import EventType
from core.messages import Event, OrderCommand, Tick, decoder, encode
from core.repos import users
from core.strategies.runtime import RuntimeStore
from core.strategies.strategy_validator import PAPER, StrategySpec
from pipeline.context import ServiceContext
from pipeline.slwatch.partition import slot_of
from pipeline.slwatch.service import RESYNC_INTERVAL_S, SlWatchService
from tests.conftest import make_settings
from tests.order_kit import LTP_PAISE, TRADING_DAY, Kit, at
from tests.stubs import eventually

_event = decoder(Event)
_command = decoder(OrderCommand)


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    """Servers and a fake clock at 09:30 IST on a trading day."""
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


# ---- builders ----------------------------------------------------------------------------


async def running(kit: Kit, *, symbol: str = "RELIANCE", stop: str = "2400",
                  stop_type: StopLossType = StopLossType.PRICE, target: str | None = None,
                  trailing: str | None = None, email: str = "t@example.com") -> Strategy:
    """A RUNNING strategy (position NONE) with the given exits, the LTP at ₹2,500."""
    async with kit.sessions() as session, session.begin():
        user = await users.get_user_by_email(session, email)
        if user is None:
            user = await users.create_user(session, email=email, password_hash="x")
    await kit.set_ltp(LTP_PAISE, symbol)
    row = await kit.strategies.create(user.id, "sl", StrategySpec(
        exchange="NSE", symbol=symbol, buy_time=at(9, 30).time(), sell_time=at(15, 0).time(),
        stop_loss_type=stop_type, stop_loss_value=Decimal(stop), quantity=1, broker=PAPER,
        target_price=None if target is None else Decimal(target),
        trailing_sl_pct=None if trailing is None else Decimal(trailing)))
    return await kit.strategies.start(user.id, row.id)


async def bought(kit: Kit, **spec: str | StopLossType | None) -> Strategy:
    """`running`, then BUY through the executor (which must be running)."""
    strategy = await running(kit, **spec)  # type: ignore[arg-type]
    await kit.command(strategy, OrderAction.BUY)
    order = await kit.settled(strategy.id, OrderAction.BUY)
    assert order.status == OrderStatus.FILLED
    return await kit.strategy(strategy.id)


@asynccontextmanager
async def watching(kit: Kit, partition: str = "0/1",
                   instance: str = "slw") -> AsyncIterator[SlWatchService]:
    """An SL watcher running in this process on the kit's clock."""
    settings = kit.settings.model_copy(update={"slwatch_partition": partition})
    service = SlWatchService(ServiceContext(
        nc=kit.nc, js=kit.js, sessions=kit.sessions, redis=kit.redis, clock=kit.clock,
        settings=settings, instance=instance))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def tick(kit: Kit, paise: int, symbol: str = "RELIANCE") -> None:
    """Publish one tick as the feed does."""
    now = time.time_ns()
    await kit.nc.publish(subjects.tick("NSE", symbol), encode(Tick(
        exchange="NSE", symbol=symbol, ltp_paise=paise, exchange_ts=now, received_ts=now)))


async def stored(js: JetStreamContext, stream: str) -> list[tuple[str, dict[str, str], bytes]]:
    """Every message a stream still holds."""
    info = await js.stream_info(stream)
    found: list[tuple[str, dict[str, str], bytes]] = []
    if not info.state.messages:
        return found
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            raw = await js.get_msg(stream, seq)
        except NotFoundError:
            continue  # consumed from a work-queue stream
        assert raw.subject is not None and raw.data is not None
        found.append((raw.subject, dict(raw.headers or {}), raw.data))
    return found


async def triggered(kit: Kit, strategy_id: str) -> list[Event]:
    """The SL_TRIGGERED events of a strategy, oldest first."""
    events = [_event.decode(data) for _, _, data in await stored(kit.js, subjects.EVENTS)]
    return [e for e in events
            if e.type == EventType.SL_TRIGGERED.value and e.strategy_id == strategy_id]


async def exited(kit: Kit, strategy_id: str, action: OrderAction) -> Strategy:
    """Wait for the exit order to fill; returns the strategy row."""
    order = await kit.settled(strategy_id, action)
    assert order.status == OrderStatus.FILLED, order.status_reason
    return await kit.strategy(strategy_id)


# ---- stops --------------------------------------------------------------------------------


async def test_a_tick_at_the_stop_exits_each_bought_position_once(kit: Kit) -> None:
    factory = kit.counting_factory()
    async with kit.executor(factory):
        first = await bought(kit)
        twin = await bought(kit)  # the same stop: one tick breaches both
        probe = await bought(kit, stop="2300")
        async with watching(kit) as watcher:  # armed from the Redis snapshot
            assert sorted(watcher.index.strategy_ids()) == sorted([first.id, twin.id, probe.id])
            for paise in (240_001, 240_000, 239_000, 235_000, 230_000):
                await tick(kit, paise)
            for strategy in (first, twin, probe):
                assert (await exited(kit, strategy.id, OrderAction.SL_EXIT)).position \
                    == Position.SL_HIT
            await eventually(lambda: len(watcher.firer.tasks) == 0)
            assert watcher.metrics.breaches == 3
            assert watcher.metrics.checks == 5
            assert len(watcher.index) == 0
    assert len(factory.calls) == 6  # three buys, three exits
    for strategy, ltp in ((first, 240_000), (twin, 240_000), (probe, 230_000)):
        [event] = await triggered(kit, strategy.id)
        assert event.data["kind"] == "stop_loss"
        assert event.data["action"] == OrderAction.SL_EXIT
        assert event.data["ltp_paise"] == ltp
        assert event.data["level_paise"] == ltp
        assert event.rev == strategy.rev
    assert watcher.metrics.latency_ns.seen == 3


async def test_a_position_that_is_not_bought_is_never_exited(kit: Kit) -> None:
    async with kit.executor():
        idle = await running(kit)  # position NONE, stop ₹2,400
        async with watching(kit) as watcher:
            probe = await bought(kit, stop="2300")  # armed by its ORDER_EXECUTED event
            await eventually(lambda: probe.id in watcher.index, message="probe armed")
            assert idle.id not in watcher.index
            await tick(kit, 239_000)
            await tick(kit, 229_000)
            await exited(kit, probe.id, OrderAction.SL_EXIT)
            assert watcher.metrics.breaches == 1
    assert [e.data["ltp_paise"] for e in await triggered(kit, probe.id)] == [229_000]
    assert await triggered(kit, idle.id) == []
    for action in OrderAction:
        if action is not OrderAction.BUY:
            assert await kit.order(idle.id, action) is None
    assert (await kit.strategy(idle.id)).position == Position.NONE


async def test_an_edited_stop_takes_effect_on_the_next_tick(kit: Kit) -> None:
    async with kit.executor():
        strategy = await bought(kit)
        async with watching(kit) as watcher:
            assert watcher.index.stop_of(strategy.id) == 240_000
            updated = await kit.strategies.update(strategy.user_id, strategy.id,
                                                  {"stop_loss_value": Decimal("2450")})
            await eventually(lambda: watcher.index.stop_of(strategy.id) == 245_000,
                             message="new stop armed")
            assert watcher.arming.rev_of(strategy.id) == updated.rev
            await tick(kit, 245_001)
            await tick(kit, 245_000)
            await exited(kit, strategy.id, OrderAction.SL_EXIT)
    [event] = await triggered(kit, strategy.id)
    assert (event.data["ltp_paise"], event.data["level_paise"]) == (245_000, 245_000)


async def test_a_percent_stop_is_measured_from_the_entry_fill(kit: Kit) -> None:
    async with kit.executor():
        strategy = await bought(kit, stop="2", stop_type=StopLossType.PERCENT)
        assert strategy.entry_price == Decimal("2501.25")  # ₹2,500 + 5 bps paper slippage
        async with watching(kit) as watcher:
            assert watcher.index.stop_of(strategy.id) == 245_122  # 2451.225 rounded down
            await tick(kit, 245_123)
            await tick(kit, 245_122)
            await exited(kit, strategy.id, OrderAction.SL_EXIT)
    assert [e.data["ltp_paise"] for e in await triggered(kit, strategy.id)] == [245_122]


async def test_a_rejected_stop_exit_is_retried_as_a_square_off(kit: Kit) -> None:
    async with kit.executor():
        strategy = await bought(kit)
        async with watching(kit) as watcher:
            await PaperFaults(kit.redis).set(FaultMode.REJECT)
            await tick(kit, 240_000)
            rejected = await kit.settled(strategy.id, OrderAction.SL_EXIT)
            assert rejected.status == OrderStatus.REJECTED
            await eventually(lambda: strategy.id in watcher.index, message="re-armed")
            await tick(kit, 239_500)
            row = await exited(kit, strategy.id, OrderAction.SQUARE_OFF)
    assert row.position == Position.SOLD
    events = await triggered(kit, strategy.id)
    assert [(e.data["action"], e.data["reason"], e.data["ltp_paise"]) for e in events] == [
        ("SL_EXIT", "stop_loss", 240_000), ("SQUARE_OFF", "stop_loss_retry", 239_500)]


async def test_a_stopped_strategy_stays_protected_until_its_position_is_closed(
        kit: Kit) -> None:
    async with kit.executor():
        strategy = await bought(kit)
        closed = await bought(kit, stop="2300")
        async with watching(kit) as watcher:
            # Stopping squares the position off; here the broker rejects the square-off.
            await PaperFaults(kit.redis).set(FaultMode.REJECT)
            await kit.strategies.stop(strategy.user_id, strategy.id)
            square_off = await kit.settled(strategy.id, OrderAction.SQUARE_OFF)
            assert square_off.status == OrderStatus.REJECTED
            await kit.strategies.stop(closed.user_id, closed.id)  # this one is squared off
            await exited(kit, closed.id, OrderAction.SQUARE_OFF)
            await eventually(lambda: closed.id not in watcher.index, message="disarmed")
            assert await kit.strategies.runtime(strategy.user_id, strategy.id) is None
            assert strategy.id in watcher.index  # no record in Redis, still protected
            await tick(kit, 230_000)
            row = await exited(kit, strategy.id, OrderAction.SL_EXIT)
    assert row.position == Position.SL_HIT
    assert await triggered(kit, closed.id) == []


# ---- targets and trailing stops -----------------------------------------------------------


async def test_a_target_exits_with_profit(kit: Kit) -> None:
    async with kit.executor():
        strategy = await bought(kit, target="2600")
        async with watching(kit) as watcher:
            assert watcher.index.target_of(strategy.id) == 260_000
            await tick(kit, 259_999)
            await tick(kit, 260_000)
            row = await exited(kit, strategy.id, OrderAction.TARGET_EXIT)
    assert row.position == Position.SOLD
    [event] = await triggered(kit, strategy.id)
    assert (event.data["kind"], event.data["ltp_paise"]) == ("target", 260_000)


async def test_a_trailing_stop_follows_the_price_up(kit: Kit) -> None:
    async with kit.executor():
        strategy = await bought(kit, trailing="2")  # entry 2501.25: first trail at 2451.22
        async with watching(kit) as watcher:
            assert watcher.index.stop_of(strategy.id) == 245_122
            await tick(kit, 246_000)
            await tick(kit, 260_000)  # a new high: the stop follows to 2548.00
            await tick(kit, 254_801)
            await tick(kit, 258_000)  # lower than the high: the stop stays
            await tick(kit, 254_800)
            row = await exited(kit, strategy.id, OrderAction.SL_EXIT)
            assert watcher.metrics.checks == 5
    assert row.position == Position.SL_HIT
    [event] = await triggered(kit, strategy.id)
    assert (event.data["kind"], event.data["level_paise"], event.data["ltp_paise"]) == (
        "trailing", 254_800, 254_800)


# ---- arming without events; partitions ------------------------------------------------------


async def test_the_resync_arms_a_bought_position_no_event_announced(kit: Kit) -> None:
    strategy = await running(kit)
    store = RuntimeStore(kit.redis)
    async with watching(kit) as watcher:
        assert len(watcher.index) == 0
        record = await store.get(strategy.user_id, strategy.id)
        assert record is not None
        # As if the executor committed a fill and crashed before its event.
        await store.put(msgspec.structs.replace(
            record, rev=record.rev + 1, position=Position.BOUGHT.value,
            entry_price="2501.25", position_day=TRADING_DAY.isoformat()))
        assert isinstance(kit.clock, FakeClock)
        await kit.clock.advance(RESYNC_INTERVAL_S)
        await eventually(lambda: strategy.id in watcher.index, message="armed by resync")
        assert watcher.arming.resync_applied == 1
        await tick(kit, 240_000)

        async def published() -> list[tuple[dict[str, str], OrderCommand]]:
            return [(headers, _command.decode(data))
                    for _, headers, data in await stored(kit.js, subjects.COMMANDS)]

        [(headers, command)] = await eventually(published, message="exit command stored")
    assert (command.action, command.reason, command.trigger_price_paise) == (
        "SL_EXIT", "stop_loss", 240_000)
    assert (command.trading_day, command.rev) == (TRADING_DAY.isoformat(), record.rev + 1)
    assert headers[subjects.MSG_ID_HEADER] == f"{strategy.id}:{TRADING_DAY.isoformat()}:SL_EXIT"


async def test_two_replicas_split_the_symbols_between_them(kit: Kit) -> None:
    symbols = {slot_of("NSE", s, 2): s for s in ("RELIANCE", "INFY")}
    assert sorted(symbols) == [0, 1]
    async with kit.executor():
        positions = {slot: await bought(kit, symbol=symbol) for slot, symbol in symbols.items()}
        async with watching(kit, "0/2", "slw-0") as zero, watching(kit, "1/2", "slw-1") as one:
            for slot, replica in ((0, zero), (1, one)):
                assert replica.index.strategy_ids() == [positions[slot].id]
            for symbol in symbols.values():
                await tick(kit, 239_000, symbol)
            for position in positions.values():
                await exited(kit, position.id, OrderAction.SL_EXIT)
            await eventually(lambda: zero.metrics.ticks_seen == one.metrics.ticks_seen == 2)
            for replica in (zero, one):
                assert replica.metrics.breaches == 1
                assert replica.metrics.ticks_skipped == 1
    for position in positions.values():
        assert len(await triggered(kit, position.id)) == 1
