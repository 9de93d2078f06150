"""What the executor does when its own work is interrupted: leases, reconciliation, sweeps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.paper.faults import FaultMode, PaperFaults
from core import error_codes, redis_keys, subjects
from core.clock import FakeClock
from core.db.enums import OrderAction, OrderStatus, Position, StrategyStatus
from core.db.models import Order, Strategy
from core.embedded.stack import Endpoints
from core.errors import Conflict
from pipeline.executor.outcome import Outcome
from tests.conftest import make_settings
from tests.order_kit import Kit, at
from tests.stubs import eventually


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    """Short ack wait and lock TTL, so leases and redeliveries happen within a test."""
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=1.0,
                             order_lock_ttl_s=1.5, executor_max_deliver=3)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


async def test_a_broker_call_longer_than_the_lock_and_the_ack_wait_is_one_order(
        kit: Kit, js: JetStreamContext) -> None:
    strategy = await kit.running_strategy()
    await PaperFaults(kit.redis).set(FaultMode.HANG_AFTER_ACCEPT, hang_s=60)
    clock = kit.clock
    assert isinstance(clock, FakeClock)
    lock = redis_keys.order_lock(strategy.id, OrderAction.BUY)
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        await eventually(lambda: kit.paper_orders(strategy.user_id))
        # The broker call now outlasts the lock's TTL and the ack wait several times over:
        # the lease is renewed and the message kept in progress, so nobody takes over.
        renewals = 0
        last = await kit.redis.pttl(lock)

        async def renewed_three_times() -> bool:
            nonlocal renewals, last
            now = await kit.redis.pttl(lock)
            renewals += now > last
            last = now
            return renewals >= 3
        await eventually(renewed_three_times, timeout=10, interval=0.05)
        info = await js.consumer_info(subjects.COMMANDS, "executor")
        assert info.num_redelivered == 0
        await clock.advance(60)  # the broker finally answers
        order = await kit.settled(strategy.id, OrderAction.BUY)
    assert order.status == OrderStatus.FILLED
    assert len(factory.calls) == 1
    assert len(await kit.paper_orders(strategy.user_id)) == 1


async def test_an_outcome_for_an_order_already_settled_changes_nothing(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    async with kit.executor() as executor:
        await kit.command(strategy, OrderAction.BUY)
        order = await kit.settled(strategy.id, OrderAction.BUY)
        before = await kit.strategy(strategy.id)
        # A worker that stalled past its lease comes back with a stale outcome.
        await executor.handler.commit(order, Outcome(OrderStatus.REJECTED, reason="stale"))
    after = await kit.strategy(strategy.id)
    assert (after.rev, after.position, after.consecutive_failures) == (
        before.rev, Position.BOUGHT, 0)
    settled = await kit.order(strategy.id, OrderAction.BUY)
    assert settled is not None
    assert settled.status == OrderStatus.FILLED


async def test_a_dead_lettered_order_is_settled_by_reconciliation(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    faults = PaperFaults(kit.redis)
    await faults.set(FaultMode.LOOKUP_FAIL, count=-1)
    await faults.set(FaultMode.ERROR_5XX, count=-1)
    clock = kit.clock
    assert isinstance(clock, FakeClock)
    async with kit.executor() as executor:
        await kit.command(strategy, OrderAction.BUY)

        async def buried() -> bool:
            await clock.advance(1.0)
            return executor.consumer.dead_lettered == 1
        await eventually(buried, timeout=20)
        stuck = await kit.order(strategy.id, OrderAction.BUY)
        assert stuck is not None
        assert stuck.status == OrderStatus.UNKNOWN
        await faults.clear()  # the broker recovers; the command is gone

        async def reconciled() -> bool:
            # A periodic round may still hold the order's lock, waiting out a lookup
            # backoff on the fake clock: move time on and try again until one settles it.
            await clock.advance(1.0)
            await executor.reconciler.run()
            row = await kit.order(strategy.id, OrderAction.BUY)
            return row is not None and row.status == OrderStatus.FILLED
        await eventually(reconciled, timeout=20)
        assert executor.reconciler.adopted >= 1
    order = await kit.order(strategy.id, OrderAction.BUY)
    assert order is not None
    assert order.status == OrderStatus.FILLED
    assert len(await kit.paper_orders(strategy.user_id)) == 1
    assert (await kit.strategy(strategy.id)).position == Position.BOUGHT


async def test_an_open_position_keeps_its_instrument_and_exits_from_its_entry(kit: Kit) -> None:
    strategy = await kit.running_strategy(quantity=10)
    async with kit.executor():
        await kit.command(strategy, OrderAction.BUY)
        await kit.settled(strategy.id, OrderAction.BUY)
    # The executor is down: the stop's square-off waits in the stream.
    await kit.strategies.stop(strategy.user_id, strategy.id)
    with pytest.raises(Conflict) as refused:
        await kit.strategies.update(strategy.user_id, strategy.id, {"quantity": 500})
    assert refused.value.code is error_codes.STR_LOCKED_WHILE_RUNNING
    async with kit.executor():
        exit_order = await kit.settled(strategy.id, OrderAction.SQUARE_OFF)
    assert (exit_order.symbol, exit_order.quantity, exit_order.status) == (
        "RELIANCE", 10, OrderStatus.FILLED)
    assert (await kit.strategy(strategy.id)).position == Position.SOLD


async def test_square_off_needs_an_open_position(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    with pytest.raises(Conflict) as refused:
        await kit.strategies.square_off(strategy.user_id, strategy.id)
    assert refused.value.code is error_codes.STR_NO_POSITION


async def test_a_stopped_strategy_left_holding_a_position_is_squared_off(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    async with kit.executor() as executor:
        await kit.command(strategy, OrderAction.BUY)
        await kit.settled(strategy.id, OrderAction.BUY)
        # Stopped while its square-off was lost (a crash between the commit and the publish).
        async with kit.sessions() as session, session.begin():
            await session.execute(update(Strategy).where(Strategy.id == strategy.id)
                                  .values(status=StrategyStatus.STOPPED.value))
        await executor.reconciler.run()
        exit_order = await kit.settled(strategy.id, OrderAction.SQUARE_OFF)
    assert exit_order.status == OrderStatus.FILLED
    assert (await kit.strategy(strategy.id)).position == Position.SOLD


async def test_an_outcome_whose_announcement_was_lost_is_announced_again(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    async with kit.executor() as executor:
        await kit.command(strategy, OrderAction.BUY)
        order = await kit.settled(strategy.id, OrderAction.BUY)

        async def announced() -> bool:
            row = await kit.order(strategy.id, OrderAction.BUY)
            return row is not None and row.announced_at is not None

        await eventually(announced, timeout=10)  # marked in the background
        # Committed, then the process died before the runtime copy and events went out.
        async with kit.sessions() as session, session.begin():
            await session.execute(update(Order).where(Order.id == order.id).values(
                announced_at=None, completed_at=order.completed_at - timedelta(minutes=1)
                if order.completed_at else None))
        await kit.redis.delete(redis_keys.strategy_state(strategy.user_id, strategy.id))
        await executor.reconciler.run()
    runtime = await kit.strategies.runtime(strategy.user_id, strategy.id)
    assert runtime is not None
    assert runtime.position == Position.BOUGHT
    again = await kit.order(strategy.id, OrderAction.BUY)
    assert again is not None
    assert again.announced_at is not None
