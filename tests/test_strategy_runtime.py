"""Runtime records in Redis: rev-guarded writes, the pipeline snapshot, rebuild from PostgreSQL."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import msgspec
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import Strategy
from core.ids import new_id
from core.repos import users
from core.strategies.runtime import RuntimeStore, from_row, rebuild_runtime


def _strategy(user_id: str, status: str = "RUNNING", rev: int = 1) -> Strategy:
    return Strategy(id=new_id("str"), user_id=user_id, name="s", exchange="NSE",
                    symbol="INFY", buy_time=time(9, 20), sell_time=time(15, 0),
                    stop_loss_type="PRICE", stop_loss_value=Decimal("1400.00"), quantity=3,
                    status=status, position="NONE", rev=rev, is_simulated=False,
                    target_price=Decimal("1600.00"))


async def test_rev_guard_keeps_the_newest(redis: Redis) -> None:
    store = RuntimeStore(redis)
    record = from_row(_strategy("usr_a", rev=2))
    assert await store.put(record)
    assert not await store.put(msgspec.structs.replace(record, rev=1, quantity=99))
    assert not await store.put(record)  # the same rev twice changes nothing
    assert await store.put(msgspec.structs.replace(record, rev=3, stop_loss_value="1390.00"))
    current = await store.get("usr_a", record.strategy_id)
    assert current is not None
    assert current.rev == 3
    assert current.stop_loss_value == "1390.00"
    assert current.broker == "paper"
    assert not await store.drop("usr_a", record.strategy_id, rev=2)  # older than stored
    assert await store.drop("usr_a", record.strategy_id, rev=4)
    assert await store.get("usr_a", record.strategy_id) is None
    assert await store.get_all_active_strategies() == []


async def test_snapshot_and_rebuild_match_postgres(
        sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
    async with sessions() as session, session.begin():
        owner = await users.create_user(session, email="o@example.com", password_hash="x")
        running = [_strategy(owner.id, rev=i + 1) for i in range(1500)]
        stopped = _strategy(owner.id, status="STOPPED")
        session.add_all([*running, stopped])
    store = RuntimeStore(redis)
    async with sessions() as session:
        assert await rebuild_runtime(session, store) == 1500
    snapshot = await store.get_all_active_strategies()
    assert sorted(r.strategy_id for r in snapshot) == sorted(s.id for s in running)
    assert {r.strategy_id: r for r in snapshot}[running[7].id] == from_row(running[7])

    # A Redis loss (and a stray record) is repaired from PostgreSQL.
    await redis.flushdb()
    await store.put(from_row(stopped))
    async with sessions() as session:
        await rebuild_runtime(session, store)
    again = await store.get_all_active_strategies()
    assert sorted(r.strategy_id for r in again) == sorted(s.id for s in running)
    assert await store.get(owner.id, stopped.id) is None
