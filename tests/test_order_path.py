"""The executor's statements on asyncpg (core.db.driver, core.db.rowmap,
core.repos.order_path): what they write reads back through the ORM unchanged, one strategy
is one instance, and a connection that died in use never goes back into the pool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import FakeClock
from core.db.driver import Driver, DriverError
from core.db.engine import create_engine
from core.db.enums import OrderAction, OrderStatus
from core.db.models import Notification, Order, OrderLog, Strategy
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.repos import order_path
from core.repos.order_path import Writes
from tests.conftest import make_settings
from tests.order_kit import Kit, at


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    return Kit(make_settings(endpoints, tmp_path), sessions, redis, nc, js,
               FakeClock(at(9, 30)))


@pytest.fixture
async def driver(endpoints: Endpoints) -> AsyncIterator[Driver]:
    """A driver on a pool of one connection: the next block must get the same one back,
    unless the driver refused to pool it."""
    engine = create_engine(endpoints.database_url, pool_size=1, max_overflow=0,
                           pre_ping=False)
    try:
        yield Driver(engine)
    finally:
        await engine.dispose()


def _intent(strategy: Strategy, action: OrderAction) -> Order:
    now = datetime.now(UTC)
    order_id = new_id("ord")
    return Order(id=order_id, user_id=strategy.user_id, strategy_id=strategy.id,
                 trading_day=at(9, 30).date(), action=action.value,
                 side="BUY" if action is OrderAction.BUY else "SELL", exchange="NSE",
                 symbol="RELIANCE", quantity=10, broker_type="paper",
                 broker_credential_id=None, is_simulated=False, client_tag=order_id,
                 status=OrderStatus.PENDING.value, attempts=0, filled_quantity=0,
                 created_at=now, updated_at=now)


async def test_what_the_order_path_writes_reads_back_through_the_orm(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    driver = Driver.of(kit.sessions)
    async with driver.transaction("test") as conn:
        [locked] = await order_path.lock_strategies(conn, {strategy.id})
        assert (locked.id, locked.rev, locked.buy_time, locked.stop_loss_value) == (
            strategy.id, strategy.rev, strategy.buy_time, strategy.stop_loss_value)
        order = _intent(locked, OrderAction.BUY)
        writes = Writes()
        writes.insert(order)
        writes.log(order, attempt=1, status="FILLED", outcome="accepted",
                   request={"symbol": "RELIANCE", "quantity": 10},
                   response={"order_id": "ppo_1", "price": "101.50"}, error="x" * 600,
                   latency_us=1234)
        for _ in range(2):  # the same event's notification twice: kept once
            writes.notify(event_id="evt_1", user_id=locked.user_id, type="order_failed",
                          title="t" * 250, body="b", data={"order_id": order.id})
        locked.rev += 1
        locked.consecutive_failures = 2
        writes.strategy_changed(locked)
        await order_path.write(conn, writes)
    async with kit.sessions() as session:
        log = (await session.execute(select(OrderLog).where(
            OrderLog.order_id == order.id))).scalar_one()
        notes = (await session.execute(select(Notification).where(
            Notification.user_id == strategy.user_id))).scalars().all()
        stored = await session.get(Strategy, strategy.id)
        intent = await session.get(Order, order.id)
    assert log.request == {"symbol": "RELIANCE", "quantity": 10}
    assert log.response == {"order_id": "ppo_1", "price": "101.50"}
    assert (len(log.error or ""), log.latency_us, log.action) == (512, 1234, "BUY")
    assert [(n.data, len(n.title)) for n in notes] == [({"order_id": order.id}, 200)]
    assert stored is not None and (stored.rev, stored.consecutive_failures) == (
        strategy.rev + 1, 2)
    assert intent is not None and intent.status == OrderStatus.PENDING.value


async def test_an_outcome_updates_the_existing_order(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    driver = Driver.of(kit.sessions)
    order = _intent(strategy, OrderAction.BUY)
    async with driver.transaction("test") as conn:
        await order_path.write(conn, Writes(new_orders=[order]))
    async with driver.transaction("test") as conn:
        found = await order_path.with_strategies(conn, {order.id}, lock=True)
        row, _ = found[order.id]
        row.status = OrderStatus.FILLED.value
        row.filled_quantity = 10
        row.attempts = 1
        writes = Writes()
        writes.order_changed(row)
        await order_path.write(conn, writes)
    async with kit.sessions() as session:
        stored = await session.get(Order, order.id)
    assert stored is not None
    assert (stored.status, stored.filled_quantity, stored.attempts) == ("FILLED", 10, 1)


async def test_orders_of_one_strategy_share_one_strategy_instance(kit: Kit) -> None:
    """As in a session's identity map: two outcomes of one strategy in one batch change
    one strategy, never two copies of which the second write would undo the first."""
    strategy = await kit.running_strategy()
    buy, sell = _intent(strategy, OrderAction.BUY), _intent(strategy, OrderAction.SELL)
    driver = Driver.of(kit.sessions)
    async with driver.transaction("test") as conn:
        await order_path.write(conn, Writes(new_orders=[buy, sell]))
        found = await order_path.with_strategies(conn, {buy.id, sell.id, "ord_absent"})
    assert set(found) == {buy.id, sell.id}
    assert found[buy.id][1] is found[sell.id][1]
    assert found[buy.id][0].action == OrderAction.BUY.value


async def test_a_connection_that_died_in_use_is_not_pooled_again(
        driver: Driver) -> None:
    async def dies_in_use() -> None:
        async with driver.connection("test") as conn:
            await conn.close()
            raise RuntimeError("the statement failed: the connection is gone")

    with pytest.raises(RuntimeError):
        await dies_in_use()
    async with driver.connection("test") as conn:
        assert await conn.fetchval("SELECT 1") == 1


async def test_a_connection_left_inside_a_transaction_is_not_pooled_again(
        driver: Driver) -> None:
    """A rollback cut short (a cancelled task) must not lend its open transaction, and the
    row locks it holds, to the next borrower."""
    async with driver.connection("test") as conn:
        await conn.execute("BEGIN")
        await conn.fetchval("SELECT count(*) FROM strategies")
    async with driver.connection("test") as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT 1") == 1


async def test_a_failing_transaction_rolls_back_and_its_connection_serves_on(
        driver: Driver) -> None:
    pids: list[int] = []

    async def fails() -> None:
        async with driver.transaction("test") as conn:
            pids.append(conn.get_server_pid())
            await conn.execute("INSERT INTO users (id, email, password_hash, role) "
                               "VALUES ('usr_rolled_back', 'r@b.c', 'x', 'user')")
            raise RuntimeError("judging failed")

    with pytest.raises(RuntimeError):
        await fails()
    async with driver.transaction("test") as conn:
        assert conn.get_server_pid() == pids[0]  # rolled back, pooled, lent again
        assert await conn.fetchval(
            "SELECT count(*) FROM users WHERE id = 'usr_rolled_back'") == 0


async def test_a_cancelled_transaction_is_closed_not_pooled(driver: Driver) -> None:
    pids: list[int] = []
    inserted = asyncio.Event()

    async def slow() -> None:
        async with driver.transaction("test") as conn:
            pids.append(conn.get_server_pid())
            await conn.execute("INSERT INTO users (id, email, password_hash, role) "
                               "VALUES ('usr_cancelled', 'c@b.c', 'x', 'user')")
            inserted.set()
            await conn.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    await asyncio.wait_for(inserted.wait(), 5.0)
    await asyncio.sleep(0.2)  # into the sleep
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with driver.transaction("test") as conn:
        assert conn.get_server_pid() != pids[0]
        # The old backend notices its client is gone only when its statement ends:
        # end it now (it holds the test's row lock, the next test's TRUNCATE waits).
        await conn.execute("SELECT pg_terminate_backend($1)", pids[0])
        assert await conn.fetchval(
            "SELECT count(*) FROM users WHERE id = 'usr_cancelled'") == 0


async def test_slow_blocks_are_logged_with_their_purpose(
        engine: AsyncEngine, caplog: pytest.LogCaptureFixture) -> None:
    driver = Driver(engine, slow_ms=0)
    with caplog.at_level(logging.WARNING, logger="algo.db"):
        async with driver.connection("intake") as conn:
            await conn.fetchval("SELECT count(*) FROM orders")
    [record] = [r for r in caplog.records if r.getMessage() == "slow statements"]
    assert record.__dict__["purpose"] == "intake"


async def test_a_session_factory_without_an_engine_has_no_driver() -> None:
    with pytest.raises(DriverError):
        Driver.of(async_sessionmaker())


async def test_the_driver_shares_the_sessions_pool(
        engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    async with Driver.of(sessions).connection("test") as conn:
        assert engine.pool.checkedout() == before + 1  # type: ignore[attr-defined]
        assert await conn.fetchval("SELECT count(*) FROM orders") == 0
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Order))).scalar_one() \
            == 0
