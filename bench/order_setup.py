"""Setting up the order benchmarks through the real services: streams, users, prices, and
paper strategies inserted CREATED in bulk then started with `StrategyService.start_many`."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.order_plan import SYMBOLS, Planned, sell_time_for
from core import redis_keys
from core.bootstrap import seed_reference_data
from core.db.models import Strategy, User
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.nats import connect_nats
from core.repos.instruments import bundled_nse_equities
from core.strategies.service import StrategyService
from core.streams import ensure_streams

START_CONCURRENCY: Final = 8


@dataclass
class Clients:
    """The benchmark's own connections."""

    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    nc: NatsClient
    js: JetStreamContext
    service: StrategyService


async def prepare(endpoints: Endpoints) -> None:
    """Instruments and streams, as `algo up` makes them."""
    await seed_reference_data(endpoints.database_url)
    nc = await connect_nats(endpoints.nats_url, name="bench-prepare")
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.drain()


async def add_users(sessions: async_sessionmaker[AsyncSession], count: int) -> list[str]:
    """`count` users, each a paper account."""
    user_ids = [new_id("usr") for _ in range(count)]
    async with sessions() as session, session.begin():
        await session.execute(insert(User), [
            {"id": u, "email": f"{u.lower()}@bench.local", "password_hash": "x",
             "role": "user", "is_active": True} for u in user_ids])
    return user_ids


async def set_prices(redis: Redis, symbols: Sequence[str]) -> None:
    """An LTP for every symbol, so the paper broker can fill (integer paise)."""
    await redis.mset({redis_keys.ltp("NSE", s): 100_000 + 1_000 * i
                      for i, s in enumerate(symbols)})


async def populate(clients: Clients, user_count: int) -> tuple[list[str], list[str]]:
    """Users and prices; returns (users, symbols)."""
    symbols = [row["symbol"] for row in bundled_nse_equities()[:SYMBOLS]]
    users = await add_users(clients.sessions, user_count)
    await set_prices(clients.redis, symbols)
    return users, symbols


async def add_strategies(sessions: async_sessionmaker[AsyncSession],
                         planned: Sequence[Planned]) -> None:
    """CREATED paper strategies, inserted in bulk (starting them is the service's job)."""
    rows = [{"id": p.strategy_id, "user_id": p.user_id, "name": f"{p.phase}-{i}",
             "exchange": "NSE", "symbol": p.symbol, "buy_time": p.at.time(),
             "sell_time": sell_time_for(p.at) if p.sell_at is None else p.sell_at.time(),
             "stop_loss_type": "PERCENT",
             "stop_loss_value": Decimal("1.5"), "quantity": 1, "status": "CREATED",
             "position": "NONE", "rev": 0, "is_simulated": False}
            for i, p in enumerate(planned)]
    for start in range(0, len(rows), 5000):
        async with sessions() as session, session.begin():
            await session.execute(insert(Strategy), rows[start:start + 5000])


async def start_strategies(service: StrategyService, planned: Sequence[Planned]) -> None:
    """`StrategyService.start_many` per user (what POST /strategies/bulk/start runs)."""
    by_user: dict[str, list[str]] = defaultdict(list)
    for p in planned:
        by_user[p.user_id].append(p.strategy_id)
    queue = list(by_user.items())

    async def worker() -> None:
        while queue:
            user_id, strategy_ids = queue.pop()
            outcome = await service.start_many(user_id, strategy_ids)
            if outcome.failed:
                raise RuntimeError(f"start_many refused {len(outcome.failed)}: "
                                   f"{outcome.failed[:1]}")

    await asyncio.gather(*(worker() for _ in range(START_CONCURRENCY)))


async def arm(clients: Clients, planned: Sequence[Planned]) -> None:
    """Create and start `planned`."""
    await add_strategies(clients.sessions, planned)
    await start_strategies(clients.service, planned)
