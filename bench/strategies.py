"""Strategies at scale: 100,000 strategies of 1,000 users on 2,000 symbols are created and
started through the strategy service; then the pipeline snapshot is read and the list API
is loaded by 200 concurrent clients. Starts its own servers and the web process (two
workers, one per core).

    .venv/bin/python bench/strategies.py [--seconds N] [--strategies N] [--users N]

Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import tempfile
import time
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text

from bench.httpload import build_request, closed_loop, paced
from bench.webproc import start_web, stop_web
from core import aio
from core.auth.tokens import TokenCodec, TokenType
from core.clock import RealClock
from core.db import migrate
from core.db.engine import create_engine, session_factory
from core.db.models import Strategy, User
from core.embedded.process import pick_port
from core.embedded.stack import EmbeddedStack, Endpoints
from core.events import EventPublisher
from core.ids import new_id
from core.nats import connect_nats
from core.redis import create_redis
from core.repos import instruments
from core.settings import Settings
from core.strategies.runtime import RuntimeStore
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import Limits
from core.streams import ensure_streams

SYMBOLS = 2000
GET_CLIENTS = 200
START_CONCURRENCY = 8
WEB_WORKERS = 2
"""One web process per core, as production runs it."""


async def populate(endpoints: Endpoints, users: int, count: int) -> list[tuple[str, str]]:
    """Users, instruments and CREATED strategies, inserted in bulk; returns (user, strategy)."""
    engine = create_engine(endpoints.database_url, pool_size=2)
    sessions = session_factory(engine)
    symbols = [f"BENCH{i:04d}" for i in range(SYMBOLS)]
    async with sessions() as session, session.begin():
        await instruments.upsert(session, "NSE", [{"symbol": s, "name": s} for s in symbols],
                                 "bench")
        user_ids = [new_id("usr") for _ in range(users)]
        await session.execute(insert(User), [
            {"id": u, "email": f"{u.lower()}@bench.local", "password_hash": "x",
             "role": "user", "is_active": True} for u in user_ids])
    pairs: list[tuple[str, str]] = []
    rows = []
    for i in range(count):
        user_id = user_ids[i % users]
        strategy_id = new_id("str")
        pairs.append((user_id, strategy_id))
        rows.append({"id": strategy_id, "user_id": user_id, "name": f"s{i}",
                     "exchange": "NSE", "symbol": symbols[i % SYMBOLS],
                     "buy_time": clock_time(9, 20), "sell_time": clock_time(15, 10),
                     "stop_loss_type": "PERCENT", "stop_loss_value": Decimal("1.5"),
                     "quantity": 1 + i % 10, "status": "CREATED", "position": "NONE",
                     "rev": 0, "is_simulated": False})
    for start in range(0, len(rows), 5000):
        async with sessions() as session, session.begin():
            await session.execute(insert(Strategy), rows[start:start + 5000])
    await engine.dispose()
    return pairs


async def start_all(endpoints: Endpoints, settings: Settings,
                    pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Start every strategy through StrategyService.start_many (what POST /strategies/bulk/start
    runs), one call per user, `START_CONCURRENCY` calls at a time."""
    engine = create_engine(endpoints.database_url, pool_size=START_CONCURRENCY)
    redis = create_redis(endpoints.redis_url, max_connections=START_CONCURRENCY * 2)
    nc = await connect_nats(endpoints.nats_url, name="bench")
    clock = RealClock()
    service = StrategyService(session_factory(engine), redis,
                              EventPublisher(nc.jetstream(), clock), clock,
                              Limits(settings.max_quantity, Decimal(20), Decimal(20)))
    by_user: dict[str, list[str]] = {}
    for user_id, strategy_id in pairs:
        by_user.setdefault(user_id, []).append(strategy_id)
    queue: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()
    for item in by_user.items():
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            user_id, strategy_ids = queue.get_nowait()
            for start in range(0, len(strategy_ids), 500):
                outcome = await service.start_many(user_id, strategy_ids[start:start + 500])
                assert not outcome.failed, outcome.failed[:1]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(START_CONCURRENCY)))
    start_s = time.perf_counter() - started
    store = RuntimeStore(redis)
    began = time.perf_counter()
    active = await store.get_all_active_strategies()
    snapshot_s = time.perf_counter() - began
    assert len(active) == len(pairs), (len(active), len(pairs))
    await nc.drain()
    await redis.aclose()
    await engine.dispose()
    return {"start_all_s": round(start_s, 2), "starts_per_s": round(len(pairs) / start_s),
            "get_all_active_s": round(snapshot_s, 3), "active": len(active)}


async def load_list(port: int, settings: Settings, user_ids: list[str],
                    seconds: float) -> dict[str, float]:
    """GET /strategies?limit=50 by 200 clients: paced (1/s each) and back-to-back."""
    codec = TokenCodec(settings, RealClock())
    host, netloc = "127.0.0.1", f"127.0.0.1:{port}"
    requests = []
    for user_id in user_ids[:GET_CLIENTS]:
        token, _ = codec.issue(user_id=user_id, role="user", typ=TokenType.ACCESS,
                               family=new_id("ses"))
        requests.append(build_request("GET", "/strategies?limit=50", netloc,
                                      {"Authorization": f"Bearer {token}"}))
    steady = await paced(host, port, requests, GET_CLIENTS, 1.0, seconds / 2)
    saturated = await closed_loop(host, port, requests, GET_CLIENTS, seconds / 2)
    return {"list_clients": GET_CLIENTS, "list_rate_per_client": 1.0,
            "list_per_s": steady.per_s, "list_p50_ms": steady.percentile_ms(0.5),
            "list_p99_ms": steady.percentile_ms(0.99), "list_errors": steady.errors,
            "saturated_list_per_s": saturated.per_s,
            "saturated_list_p50_ms": saturated.percentile_ms(0.5),
            "saturated_list_p99_ms": saturated.percentile_ms(0.99)}


async def vacuum(endpoints: Endpoints) -> None:
    """VACUUM ANALYZE the strategies table after the bulk load and start, then flush the
    dirty pages (a checkpoint), so the measurement sees a settled database."""
    engine = create_engine(endpoints.database_url, pool_size=1)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE strategies"))
        await conn.execute(text("CHECKPOINT"))
    await engine.dispose()


async def prepare(endpoints: Endpoints) -> None:
    """The streams the events go to."""
    nc = await connect_nats(endpoints.nats_url, name="bench")
    await ensure_streams(nc.jetstream())
    await nc.drain()


def main(seconds: float, count: int, users: int) -> dict[str, object]:
    """Start servers, populate, start everything, load the list API, stop."""
    with tempfile.TemporaryDirectory(prefix="algo-bench-") as tmp:
        settings = Settings(env="dev", data_dir=Path(tmp), nats_port=0, nats_monitor_port=0,
                            redis_port=0)
        stack = EmbeddedStack(settings, persistent_redis=False)
        endpoints = stack.start()
        web: subprocess.Popen[bytes] | None = None
        try:
            migrate.upgrade(endpoints.database_url)
            aio.run(prepare(endpoints))
            began = time.perf_counter()
            pairs = aio.run(populate(endpoints, users, count))
            result: dict[str, object] = {"bench": "strategies", "strategies": count,
                                         "users": users, "symbols": SYMBOLS,
                                         "populate_s": round(time.perf_counter() - began, 1)}
            result.update(aio.run(start_all(endpoints, settings, pairs)))
            # Steady state, as autovacuum leaves a live database: not the bulk load's wake.
            aio.run(vacuum(endpoints))
            port = pick_port(0)
            web = start_web(endpoints, tmp, port, ALGO_DB_POOL_SIZE="20",
                            ALGO_WEB_WORKERS=str(WEB_WORKERS))
            user_ids = list(dict.fromkeys(u for u, _ in pairs))
            del pairs
            # The load generator measures latency in this process: keep the collector's
            # full passes over the set-up's objects from pausing it mid-measurement.
            gc.collect()
            gc.freeze()
            result.update(aio.run(load_list(port, settings, user_ids, seconds)))
            return result
        finally:
            stop_web(web)
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--strategies", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    args = parser.parse_args()
    print(json.dumps(main(args.seconds, args.strategies, args.users)))
