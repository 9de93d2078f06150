"""Trigger and executor together on one fake clock: a day of one strategy, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock
from core.db.enums import OrderAction, OrderStatus, Position
from core.embedded.stack import Endpoints
from pipeline.context import ServiceContext
from pipeline.trigger.service import TriggerService
from tests.conftest import make_settings
from tests.order_kit import Kit, at
from tests.stubs import eventually


@asynccontextmanager
async def trigger(kit: Kit, instance: str = "trigger-1") -> AsyncIterator[TriggerService]:
    """A trigger service on the kit's clock."""
    service = TriggerService(ServiceContext(
        nc=kit.nc, js=kit.js, sessions=kit.sessions, redis=kit.redis, clock=kit.clock,
        settings=kit.settings, instance=instance))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def _kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
         redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    return Kit(make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0), sessions, redis,
               nc, js, FakeClock(at(9, 29, 50)))


async def _tick_to(clock: FakeClock, service: TriggerService, hh: int, mm: int) -> None:
    """Move the clock to just before hh:mm, let the trigger settle, then to hh:mm."""
    await clock.set(at(hh, mm) - (at(0, 0, 1) - at(0, 0)))
    await eventually(lambda: service.next_fire_at() == at(hh, mm))
    await clock.set(at(hh, mm))


async def test_a_strategy_buys_at_buy_time_and_sells_at_sell_time(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(endpoints, tmp_path, sessions, redis, nc, js)
    clock = kit.clock
    assert isinstance(clock, FakeClock)
    strategy = await kit.running_strategy()
    factory = kit.counting_factory()
    async with kit.executor(factory), trigger(kit) as scheduler:
        assert (await kit.strategy(strategy.id)).position == Position.NONE
        await _tick_to(clock, scheduler, 9, 30)
        buy = await kit.settled(strategy.id, OrderAction.BUY)
        assert buy.status == OrderStatus.FILLED
        assert (await kit.strategy(strategy.id)).position == Position.BOUGHT

        await _tick_to(clock, scheduler, 15, 0)
        sell = await kit.settled(strategy.id, OrderAction.SELL)
        assert sell.status == OrderStatus.FILLED
    row = await kit.strategy(strategy.id)
    assert row.position == Position.SOLD
    assert row.last_action == OrderAction.SELL
    assert len(factory.calls) == 2
    assert [o.side for o in await kit.paper_orders(strategy.user_id)] == ["BUY", "SELL"]


async def test_two_trigger_replicas_make_one_order(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(endpoints, tmp_path, sessions, redis, nc, js)
    clock = kit.clock
    assert isinstance(clock, FakeClock)
    strategy = await kit.running_strategy()
    factory = kit.counting_factory()
    async with kit.executor(factory) as executor, trigger(kit, "a") as one, \
            trigger(kit, "b") as two:
        await clock.set(at(9, 29, 59))
        await eventually(lambda: one.next_fire_at() == two.next_fire_at() == at(9, 30))
        await clock.set(at(9, 30))
        await eventually(lambda: one.fired == two.fired == 1)
        buy = await kit.settled(strategy.id, OrderAction.BUY)
        await eventually(lambda: executor.consumer.handled >= 1)
    assert buy.status == OrderStatus.FILLED
    assert len(factory.calls) == 1
    assert len(await kit.paper_orders(strategy.user_id)) == 1
