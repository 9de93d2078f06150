"""The executor against real NATS, PostgreSQL, Redis and the paper broker (DESIGN §4)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.paper.faults import FaultMode, PaperFaults
from core import subjects
from core.clock import FakeClock
from core.db.enums import OrderAction, OrderStatus, Position, StrategyStatus
from core.db.models import Notification, Order, OrderLog
from core.embedded.stack import Endpoints
from core.halts import GLOBAL, HaltStore
from tests.conftest import make_settings
from tests.order_kit import Kit, at
from tests.stubs import eventually


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    """Servers, a fake clock at 09:30 IST on a trading day, and short timeouts."""
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0, executor_max_deliver=4)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


async def test_buy_then_sell_makes_two_broker_orders(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        buy = await kit.settled(strategy.id, OrderAction.BUY)
        assert buy.status == OrderStatus.FILLED
        assert buy.client_tag == buy.id
        assert buy.average_price is not None
        bought = await kit.strategy(strategy.id)
        assert bought.position == Position.BOUGHT
        assert bought.entry_price == buy.average_price
        runtime = await kit.strategies.runtime(strategy.user_id, strategy.id)
        assert runtime is not None
        assert runtime.position == Position.BOUGHT
        assert runtime.rev == bought.rev

        await kit.clock.set(at(15, 0))  # type: ignore[attr-defined]
        await kit.command(strategy, OrderAction.SELL)
        sell = await kit.settled(strategy.id, OrderAction.SELL)
        assert sell.status == OrderStatus.FILLED
    assert (await kit.strategy(strategy.id)).position == Position.SOLD
    booked = await kit.paper_orders(strategy.user_id)
    assert [(o.side, o.client_tag, o.status) for o in booked] == [
        ("BUY", buy.id, "COMPLETE"), ("SELL", sell.id, "COMPLETE")]
    assert len(factory.calls) == 2


async def test_the_same_command_twice_makes_one_order(kit: Kit,
                                                      js: JetStreamContext) -> None:
    strategy = await kit.running_strategy()
    assert await kit.command(strategy, OrderAction.BUY)
    assert not await kit.command(strategy, OrderAction.BUY)  # the stream drops the second
    # Past the de-duplication window the intent row still stops a second order.
    await js.publish(subjects.order_command(strategy.user_id, strategy.id),
                     (await _raw_command(kit, strategy.id)),
                     headers={subjects.MSG_ID_HEADER: "another-id"})
    factory = kit.counting_factory()
    async with kit.executor(factory) as executor:
        await kit.settled(strategy.id, OrderAction.BUY)
        await eventually(lambda: executor.consumer.handled == 2)
    assert len(factory.calls) == 1
    assert len(await kit.paper_orders(strategy.user_id)) == 1


async def _raw_command(kit: Kit, strategy_id: str) -> bytes:
    from core.commands import build_command
    from core.messages import encode
    strategy = await kit.strategy(strategy_id)
    return encode(build_command(kit.clock.now(), user_id=strategy.user_id,
                                strategy_id=strategy.id, trading_day="2026-11-25",
                                action=OrderAction.BUY, reason="test"))


async def test_ambiguous_with_the_order_at_the_broker_is_adopted(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    await PaperFaults(kit.redis).set(FaultMode.TIMEOUT_AFTER_ACCEPT)
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        order = await kit.settled(strategy.id, OrderAction.BUY)
    assert order.status == OrderStatus.FILLED
    assert len(factory.calls) == 1
    assert len(await kit.paper_orders(strategy.user_id)) == 1
    assert await _outcomes(kit, order.id) == ["ambiguous", "found"]


async def test_ambiguous_with_the_order_absent_is_sent_once_more(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    await PaperFaults(kit.redis).set(FaultMode.ERROR_5XX)
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        order = await kit.settled(strategy.id, OrderAction.BUY)
    assert order.status == OrderStatus.FILLED
    assert len(factory.calls) == 2
    assert len(await kit.paper_orders(strategy.user_id)) == 1
    assert await _outcomes(kit, order.id) == ["ambiguous", "absent", "accepted"]


async def _outcomes(kit: Kit, order_id: str) -> list[str | None]:
    async with kit.sessions() as session:
        return list((await session.execute(
            select(OrderLog.outcome).where(OrderLog.order_id == order_id)
            .order_by(OrderLog.id))).scalars())


async def test_not_sent_is_retried_after_backoff(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    await PaperFaults(kit.redis).set(FaultMode.FAIL_BEFORE_SEND, count=2)
    factory = kit.counting_factory()
    clock = kit.clock
    assert isinstance(clock, FakeClock)
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        await eventually(lambda: len(factory.calls) == 1)
        for expected_calls, wait in ((2, 1.0), (3, 2.0)):
            await eventually(lambda: clock.sleepers >= 3)  # heartbeat, reconcile, backoff
            await clock.advance(wait)
            await eventually(lambda n=expected_calls: len(factory.calls) == n)  # type: ignore[misc]
        order = await kit.settled(strategy.id, OrderAction.BUY)
    assert order.status == OrderStatus.FILLED
    assert len(await kit.paper_orders(strategy.user_id)) == 1


async def test_rejection_is_final_and_three_failures_stop_the_strategy(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    faults = PaperFaults(kit.redis)
    await faults.set(FaultMode.REJECT, count=-1)
    factory = kit.counting_factory()
    clock = kit.clock
    assert isinstance(clock, FakeClock)
    async with kit.executor(factory):
        for number, day in enumerate((25, 26, 27), start=1):
            await clock.set(at(9, 30, day=at(0, 0).date().replace(day=day)))
            await kit.command(strategy, OrderAction.BUY)
            await eventually(lambda n=number: _count_rejected(kit, n))  # type: ignore[misc]
    assert len(factory.calls) == 3  # one per day: a rejection is never retried
    row = await kit.strategy(strategy.id)
    assert row.status == StrategyStatus.ERROR
    assert row.consecutive_failures == 3
    assert await kit.strategies.runtime(strategy.user_id, strategy.id) is None
    async with kit.sessions() as session:
        kinds = sorted((await session.execute(select(Notification.type).where(
            Notification.user_id == strategy.user_id))).scalars())
    assert kinds == ["order_failed"] * 3 + ["strategy_error"]


async def _count_rejected(kit: Kit, n: int) -> bool:
    from core.db.models import Order
    async with kit.sessions() as session:
        count = (await session.execute(select(func.count()).select_from(Order).where(
            Order.status == OrderStatus.REJECTED.value))).scalar_one()
    return int(count) == n


async def test_kill_switch_means_zero_broker_calls(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    await HaltStore(kit.sessions, kit.redis).engage(GLOBAL, "maintenance", set_by=None)
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        order = await kit.settled(strategy.id, OrderAction.BUY)
    assert order.status == OrderStatus.SKIPPED
    assert order.status_reason == "trading halted: maintenance"
    assert factory.calls == []
    assert await kit.paper_orders(strategy.user_id) == []
    assert (await kit.strategy(strategy.id)).position == Position.NONE


async def test_a_simulated_strategy_never_reaches_a_real_broker(kit: Kit) -> None:
    from core.db.models import BrokerCredential, Strategy
    from core.ids import new_id
    strategy = await kit.running_strategy(simulated=True)
    # Bypass the API's own check: the executor must refuse on its own.
    async with kit.sessions() as session, session.begin():
        credential = BrokerCredential(id=new_id("brk"), user_id=strategy.user_id,
                                      broker_type="zerodha", is_valid=True)
        session.add(credential)
        await session.flush()
        row = await session.get(Strategy, strategy.id)
        assert row is not None
        row.broker_credential_id = credential.id
    factory = kit.counting_factory()
    real_calls: list[str] = []

    async def zerodha(*, user_id: str, credential_id: str | None) -> object:
        real_calls.append(user_id)
        raise AssertionError("a simulated strategy reached a real broker")

    factory.register("zerodha", zerodha)  # type: ignore[arg-type]
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        order = await kit.settled(strategy.id, OrderAction.BUY)
    assert order.status == OrderStatus.SKIPPED
    assert order.status_reason == "a simulated strategy trades on paper only"
    assert real_calls == []
    assert factory.calls == []


async def test_commands_arriving_together_are_each_executed_once(kit: Kit) -> None:
    """Many commands at once share the executor's transactions (group commit): every
    strategy still gets one order, and exits of one position racing each other make one."""
    strategies = [await kit.running_strategy(f"u{i}@example.com") for i in range(12)]
    factory = kit.counting_factory()
    for strategy in strategies:  # queued before the executor starts: they come as a batch
        await kit.command(strategy, OrderAction.BUY)
    async with kit.executor(factory) as service:
        for strategy in strategies:
            assert (await kit.settled(strategy.id, OrderAction.BUY)).status \
                == OrderStatus.FILLED
        batches, commands = service.handler.intake_batches
        assert commands == 12 and batches < 12
        racing = strategies[0]
        for action in (OrderAction.SELL, OrderAction.SL_EXIT, OrderAction.TARGET_EXIT):
            await kit.command(racing, action)
        await eventually(lambda: _exit_settled(kit, racing.id), timeout=10)
        await asyncio.sleep(0.5)  # a second exit would have been booked by now
    booked = await kit.paper_orders(racing.user_id)
    assert [o.side for o in booked] == ["BUY", "SELL"]
    assert len(factory.calls) == 13
    assert (await kit.strategy(racing.id)).position in (Position.SOLD, Position.SL_HIT)


async def _exit_settled(kit: Kit, strategy_id: str) -> bool:
    async with kit.sessions() as session:
        rows = (await session.execute(select(Order).where(
            Order.strategy_id == strategy_id, Order.side == "SELL"))).scalars().all()
    return any(r.status == OrderStatus.FILLED for r in rows)
