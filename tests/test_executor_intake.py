"""The executor's batched intake against real PostgreSQL: races with other writers of a
strategy's orders, and commands that can never be executed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock
from core.commands import build_command
from core.db.enums import OrderAction, OrderStatus, Position
from core.db.models import Order, Strategy
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.market import MarketHours
from pipeline.executor.errors import Permanent
from pipeline.executor.intake import Intake
from tests.conftest import make_settings
from tests.order_kit import Kit, at


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0, executor_max_deliver=4)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


async def _intake(kit: Kit) -> Intake:
    market = MarketHours(kit.sessions, kit.clock, paper_always_open=True)
    await market.refresh(force=True)
    return Intake(kit.sessions, kit.clock, kit.counting_factory(), market)


def _command(kit: Kit, user_id: str, strategy_id: str, action: OrderAction,
             ) -> object:
    return build_command(kit.clock.now(), user_id=user_id, strategy_id=strategy_id,
                         trading_day=at(9, 30).date().isoformat(), action=action,
                         reason="test")


async def test_an_exit_waiting_for_the_strategy_lock_sees_the_exit_committed_meanwhile(
        kit: Kit) -> None:
    """Another executor's intake holds the strategy while it records a SELL; an SL exit
    judged right after must see that SELL and be dropped, never become a second exit."""
    strategy = await kit.running_strategy()
    async with kit.executor():
        await kit.command(strategy, OrderAction.BUY)
        assert (await kit.settled(strategy.id, OrderAction.BUY)).status == OrderStatus.FILLED
    intake = await _intake(kit)
    day = at(9, 30).date()
    async with kit.sessions() as other, other.begin():
        locked = (await other.execute(select(Strategy).where(Strategy.id == strategy.id)
                                      .with_for_update())).scalar_one()
        assert locked.position == Position.BOUGHT
        now = datetime.now(UTC)
        other.add(Order(
            id=new_id("ord"), user_id=strategy.user_id, strategy_id=strategy.id,
            trading_day=day, action=OrderAction.SELL.value, side="SELL", exchange="NSE",
            symbol="RELIANCE", quantity=10, broker_type="paper", broker_credential_id=None,
            is_simulated=False, client_tag="t", status=OrderStatus.PENDING.value,
            attempts=0, filled_quantity=0, created_at=now, updated_at=now))
        await other.flush()
        waiting = asyncio.create_task(intake.prepare(_command(  # type: ignore[arg-type]
            kit, strategy.user_id, strategy.id, OrderAction.SL_EXIT)))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # it waits for the strategy row
    assert await waiting is None
    async with kit.sessions() as session:
        exits = (await session.execute(select(Order.action).where(
            Order.strategy_id == strategy.id, Order.side == "SELL"))).scalars().all()
    assert exits == [OrderAction.SELL.value]


async def test_a_malformed_command_fails_alone_and_for_good(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    intake = await _intake(kit)
    good = _command(kit, strategy.user_id, strategy.id, OrderAction.BUY)
    bad = build_command(kit.clock.now(), user_id=strategy.user_id, strategy_id=strategy.id,
                        trading_day="2026-13-45", action=OrderAction.SELL, reason="test")
    results = await asyncio.gather(intake.prepare(good),  # type: ignore[arg-type]
                                   intake.prepare(bad), return_exceptions=True)
    assert isinstance(results[1], Permanent)
    prepared = results[0]
    assert not isinstance(prepared, BaseException) and prepared is not None
    assert prepared.fresh and prepared.order.action == OrderAction.BUY.value
