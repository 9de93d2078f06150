"""The api_load benchmark's data and mix: users, an admin, instruments with prices,
strategies, orders, notifications and errors in the database, and the calls a
dashboard-heavy user base and a few admins make, by weight (bench/api_load.py runs them)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time as clock_time
from decimal import Decimal
from typing import Final

from sqlalchemy import insert, text

from bench.httpload import build_request
from core import redis_keys
from core.auth.tokens import TokenCodec, TokenType
from core.clock import RealClock, trading_day
from core.db.engine import create_engine, session_factory
from core.db.models import ErrorLog, Notification, Order, Strategy, User
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.nats import connect_nats
from core.redis import create_redis
from core.repos import instruments
from core.settings import Settings
from core.streams import ensure_streams

USERS: Final = 500
STRATEGIES_PER_USER: Final = 20
ORDERS_PER_USER: Final = 10
NOTIFICATIONS_PER_USER: Final = 20
SYMBOLS: Final = 200


@dataclass(frozen=True)
class Route:
    """One kind of call in the mix."""

    name: str
    kind: str
    """`read` or `write` (admin calls are reads: their targets are the reads')."""
    weight: float
    build: Callable[[int], bytes]


@dataclass
class Seed:
    """What the mix draws on."""

    user_tokens: list[str]
    admin_token: str
    strategies: list[list[str]]
    """Per user (index as in user_tokens): read-only strategies, then editable ones."""
    symbols: list[str]


async def populate(endpoints: Endpoints, settings: Settings) -> Seed:
    """Users, an admin, instruments with prices, strategies, orders, notifications, errors."""
    engine = create_engine(endpoints.database_url, pool_size=2, slow_query_ms=60_000)
    sessions = session_factory(engine)
    symbols = [f"BENCH{i:04d}" for i in range(SYMBOLS)]
    user_ids = [new_id("usr") for _ in range(USERS)]
    admin_id = new_id("usr")
    day = trading_day(RealClock())
    async with sessions() as session, session.begin():
        await instruments.upsert(session, "NSE", [{"symbol": s, "name": s} for s in symbols],
                                 "bench")
        await session.execute(insert(User), [
            {"id": u, "email": f"{u.lower()}@bench.local", "password_hash": "x",
             "role": "user", "is_active": True} for u in user_ids]
            + [{"id": admin_id, "email": "admin@bench.local", "password_hash": "x",
                "role": "admin", "is_active": True}])
    strategies: list[list[str]] = []
    rows, orders, notes = [], [], []
    for n, user_id in enumerate(user_ids):
        mine = [new_id("str") for _ in range(STRATEGIES_PER_USER)]
        strategies.append(mine)
        for i, strategy_id in enumerate(mine):
            rows.append({"id": strategy_id, "user_id": user_id, "name": f"s{i}",
                         "exchange": "NSE", "symbol": symbols[(n + i) % SYMBOLS],
                         "buy_time": clock_time(9, 20), "sell_time": clock_time(15, 10),
                         "stop_loss_type": "PERCENT", "stop_loss_value": Decimal("1.5"),
                         "quantity": 1, "status": "CREATED", "position": "NONE", "rev": 0,
                         "is_simulated": False})
        for i in range(ORDERS_PER_USER):
            oid = new_id("ord")
            orders.append({"id": oid, "user_id": user_id, "strategy_id": mine[i],
                           "trading_day": day, "action": "BUY", "side": "BUY",
                           "exchange": "NSE", "symbol": symbols[(n + i) % SYMBOLS],
                           "quantity": 1, "broker_type": "paper", "client_tag": oid,
                           "status": random.choice(("FILLED", "REJECTED", "FILLED")),
                           "attempts": 1})
        notes += [{"id": new_id("ntf"), "user_id": user_id, "type": "ORDER_FILLED",
                   "title": "Order filled", "body": "BUY 1 filled", "data": {}}
                  for _ in range(NOTIFICATIONS_PER_USER)]
    for table, values in ((Strategy, rows), (Order, orders), (Notification, notes)):
        for start in range(0, len(values), 5000):
            async with sessions() as session, session.begin():
                await session.execute(insert(table), values[start:start + 5000])
    async with sessions() as session, session.begin():
        await session.execute(insert(ErrorLog), [
            {"level": "ERROR", "service": "bench", "logger": "bench", "message": f"e{i}",
             "context": {}} for i in range(200)])
    # A database in service has its statistics and a recent checkpoint: without this,
    # autovacuum analyses the fresh tables and a checkpoint flushes them during the run.
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("VACUUM ANALYZE"))
        await auto.execute(text("CHECKPOINT"))
    await engine.dispose()
    redis = create_redis(endpoints.redis_url)
    await redis.mset({redis_keys.ltp("NSE", s): 100_000 + i for i, s in enumerate(symbols)})
    await redis.aclose()
    nc = await connect_nats(endpoints.nats_url, name="bench")
    await ensure_streams(nc.jetstream())
    await nc.drain()
    codec = TokenCodec(settings, RealClock())

    def token(user_id: str, role: str) -> str:
        return codec.issue(user_id=user_id, role=role, typ=TokenType.ACCESS,
                           family=new_id("ses"))[0]

    return Seed(user_tokens=[token(u, "user") for u in user_ids],
                admin_token=token(admin_id, "admin"), strategies=strategies, symbols=symbols)


def routes(seed: Seed, netloc: str) -> list[Route]:
    """The mix: what a dashboard-heavy user base and a few admins ask, by weight."""
    rng = random.Random(11)
    json_headers = {"Content-Type": "application/json"}

    def auth(i: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {seed.user_tokens[i % USERS]}"}

    admin = {"Authorization": f"Bearer {seed.admin_token}"}

    def get(path: str, headers: dict[str, str]) -> bytes:
        return build_request("GET", path, netloc, headers)

    def strategy(i: int, editable: bool) -> str:
        mine = seed.strategies[i % USERS]
        half = len(mine) // 2
        return mine[half + rng.randrange(half)] if editable else mine[rng.randrange(half)]

    def create(i: int) -> bytes:
        body = {"name": f"load {i}", "symbol": f"NSE:{seed.symbols[i % SYMBOLS]}",
                "buy_time": "09:20:00", "sell_time": "15:10:00",
                "stop_loss": {"type": "PERCENT", "value": "1.5"}, "quantity": 1 + i % 5,
                "broker_credential_id": "paper"}
        return build_request("POST", "/strategies", netloc, auth(i) | json_headers,
                             json.dumps(body).encode())

    def update(i: int) -> bytes:
        body = {"quantity": 1 + i % 9, "stop_loss": {"type": "PERCENT", "value": "2"}}
        return build_request("PUT", f"/strategies/{strategy(i, True)}", netloc,
                             auth(i) | json_headers, json.dumps(body).encode())

    def read_all(i: int) -> bytes:
        return build_request("POST", "/notifications/read-all", netloc, auth(i))

    return [
        Route("GET /strategies", "read", 18, lambda i: get("/strategies?limit=20", auth(i))),
        Route("GET /strategies/{id}", "read", 14,
              lambda i: get(f"/strategies/{strategy(i, False)}", auth(i))),
        Route("GET /orders", "read", 10, lambda i: get("/orders?limit=20", auth(i))),
        Route("GET /notifications", "read", 8,
              lambda i: get("/notifications?limit=20", auth(i))),
        Route("GET /notifications/unread-count", "read", 8,
              lambda i: get("/notifications/unread-count", auth(i))),
        Route("GET /market/ltp/{exchange}/{symbol}", "read", 14,
              lambda i: get(f"/market/ltp/NSE/{seed.symbols[i % SYMBOLS]}", auth(i))),
        Route("GET /auth/me", "read", 5, lambda i: get("/auth/me", auth(i))),
        Route("POST /strategies", "write", 6, create),
        Route("PUT /strategies/{id}", "write", 8, update),
        Route("POST /notifications/read-all", "write", 2, read_all),
        Route("GET /admin/users", "read", 2, lambda i: get("/admin/users?limit=20", admin)),
        Route("GET /admin/strategies", "read", 2,
              lambda i: get("/admin/strategies?limit=20", admin)),
        Route("GET /admin/logs/errors", "read", 1,
              lambda i: get("/admin/logs/errors?limit=20", admin)),
        Route("GET /admin/system/metrics", "read", 1,
              lambda i: get("/admin/system/metrics", admin)),
        Route("GET /admin/system/health", "read", 0.5,
              lambda i: get("/admin/system/health", admin)),
        Route("GET /admin/system/halt", "read", 0.5, lambda i: get("/admin/system/halt", admin)),
    ]
