"""SSE fan-out: 2,000 concurrent SSE connections over 500 users, events at 1,000/s.

Starts its own servers (embedded NATS, PostgreSQL, Redis, as `algo up` does) and one web
process (`python -m web`), creates the users and mints their access tokens, opens every
connection (`/user/events/stream`, 4 per user), then publishes STRATEGY_UPDATED events
round-robin over the users at a steady rate through JetStream, each stamped with its
publish time. Every connection records each event's publish → receive latency.

    .venv/bin/python bench/sse_fanout.py [--seconds N] [--connections N] [--users N]
                                         [--rate N]

Prints progress lines, then one JSON object last: p50/p99/max publish → receive (ms),
`events_lost` (deliveries expected minus received, over every connection), connections
closed early, the web process's memory per connection (RSS growth while the connections
opened, divided by their number), and CPU (`other_cores` = load from outside the bench:
a run on a shared machine is not comparable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final

import psutil

from bench.cpu import CpuMeter, postmaster_pid
from bench.sse_client import SseConnection, open_sse
from bench.webproc import start_web, stop_web
from core import aio
from core.auth.tokens import TokenCodec, TokenType
from core.clock import RealClock
from core.db import migrate
from core.db.engine import create_engine, session_factory
from core.db.enums import Role
from core.embedded.process import pick_port
from core.embedded.stack import EmbeddedStack, Endpoints
from core.events import EventPublisher, EventType
from core.ids import new_id
from core.nats import connect_nats
from core.repos import users as users_repo
from core.settings import Settings
from core.streams import ensure_streams

HOST: Final = "127.0.0.1"
OPEN_CONCURRENCY: Final = 50
TICK_S: Final = 0.01
DRAIN_S: Final = 3.0
TARGET_P99_MS: Final = 50.0


def _pct(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 2)


async def _make_users(settings: Settings, database_url: str, count: int) -> list[str]:
    engine = create_engine(database_url, pool_size=2)
    try:
        async with session_factory(engine)() as session, session.begin():
            ids = []
            for i in range(count):
                user = await users_repo.create_user(session, email=f"sse{i}@example.com",
                                                    password_hash="!",  # noqa: S106 — no login
                                                    role=Role.USER)
                ids.append(user.id)
        return ids
    finally:
        await engine.dispose()


async def _open_all(port: int, tokens: list[str], count: int) -> list[SseConnection]:
    slots = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(i: int) -> SseConnection:
        async with slots:
            conn = await open_sse(HOST, port, "/user/events/stream", tokens[i % len(tokens)])
            if not await asyncio.wait_for(conn.opened, 30):
                raise RuntimeError(f"connection {i} refused: {conn.error}")
            return conn

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _publish(endpoints: Endpoints, user_ids: list[str], rate: float,
                   seconds: float) -> Counter[str]:
    """Publish `rate` events a second for `seconds`; returns events per user."""
    nc = await connect_nats(endpoints.nats_url, name="bench-publisher")
    events = EventPublisher(nc.jetstream(), RealClock())
    per_user: Counter[str] = Counter()
    per_tick = max(1, round(rate * TICK_S))
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    try:
        while loop.time() - start < seconds:
            batch = []
            for _ in range(per_tick):
                user_id = user_ids[n % len(user_ids)]
                batch.append((user_id, events.build(
                    EventType.STRATEGY_UPDATED, user_id=user_id, strategy_id="str_bench",
                    data={"n": n, "pub_ns": time.time_ns()})))
                n += 1
            await asyncio.gather(*(events.publish(e) for _, e in batch))
            per_user.update(u for u, _ in batch)
            next_at = start + (n / per_tick) * TICK_S
            await asyncio.sleep(max(0.0, next_at - loop.time()))
    finally:
        await nc.drain()
    return per_user


async def run(endpoints: Endpoints, port: int, web_pid: int, settings: Settings,
              user_ids: list[str], connections: int, rate: float, seconds: float,
              meter: CpuMeter) -> dict[str, Any]:
    """Open the connections, publish, collect."""
    codec = TokenCodec(settings, RealClock())
    tokens = [codec.issue(user_id=u, role=Role.USER.value, typ=TokenType.ACCESS,
                          family=new_id("ses"))[0] for u in user_ids]
    web = psutil.Process(web_pid)
    rss_before = web.memory_info().rss
    opened_at = time.monotonic()
    conns = await _open_all(port, tokens, connections)
    open_s = time.monotonic() - opened_at
    await asyncio.sleep(1.0)
    rss_after = web.memory_info().rss
    print(f"{connections} connections open in {open_s:.1f} s; web RSS "
          f"{rss_before / 2**20:.0f} → {rss_after / 2**20:.0f} MiB", file=sys.stderr)
    meter.start()
    per_user = await _publish(endpoints, user_ids, rate, seconds)
    cpu = meter.stop("publish", max(1, sum(per_user.values())))
    await asyncio.sleep(DRAIN_S)
    rss_end = web.memory_info().rss
    owner = [user_ids[i % len(user_ids)] for i in range(connections)]
    expected = sum(per_user[u] for u in owner)
    received = sum(len(set(c.received)) for c in conns)
    duplicates = sum(len(c.received) - len(set(c.received)) for c in conns)
    latencies = [ns for c in conns for ns in c.latencies_ns]
    closed = sum(c.closed for c in conns)
    p99 = _pct(latencies, 0.99)
    return {
        "bench": "sse_fanout",
        "seconds": seconds,
        "connections": connections,
        "users": len(user_ids),
        "rate_per_s": rate,
        "events_published": sum(per_user.values()),
        "deliveries_expected": expected,
        "deliveries_received": received,
        "events_lost": expected - received,
        "duplicates": duplicates,
        "closed_early": closed,
        "open_s": round(open_s, 2),
        "p50_ms": _pct(latencies, 0.5),
        "p90_ms": _pct(latencies, 0.9),
        "p99_ms": p99,
        "max_ms": _pct(latencies, 1.0),
        "web_rss_mib_before": round(rss_before / 2**20, 1),
        "web_rss_mib_connected": round(rss_after / 2**20, 1),
        "web_rss_mib_end": round(rss_end / 2**20, 1),
        "memory_per_connection_kib": round((rss_after - rss_before) / connections / 1024, 1),
        "target_p99_ms": TARGET_P99_MS,
        "target_met": p99 <= TARGET_P99_MS and expected == received,
        **cpu,
    }


def main(seconds: float, connections: int, users: int, rate: float) -> dict[str, Any]:
    """Start servers and the web process, measure, stop everything."""
    with tempfile.TemporaryDirectory(prefix="algo-bench-") as tmp:
        settings = Settings(env="dev", data_dir=Path(tmp), nats_port=0, nats_monitor_port=0,
                            redis_port=0)
        stack = EmbeddedStack(settings, persistent_redis=False)
        endpoints = stack.start()
        web: subprocess.Popen[bytes] | None = None
        try:
            migrate.upgrade(endpoints.database_url)
            aio.run(_streams(endpoints))
            user_ids = aio.run(_make_users(settings, endpoints.database_url, users))
            port = pick_port(0)
            web = start_web(endpoints, tmp, port, ALGO_LOG_LEVEL="WARNING")
            print(f"web pid {web.pid} on port {port}", file=sys.stderr)
            meter = CpuMeter({"web": [web.pid]}, [os.getpid(), *postmaster_pid(stack)])
            return aio.run(run(endpoints, port, web.pid, settings, user_ids, connections,
                               rate, seconds, meter))
        finally:
            stop_web(web)
            stack.stop()


async def _streams(endpoints: Endpoints) -> None:
    nc = await connect_nats(endpoints.nats_url, name="bench-setup")
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()
    print(json.dumps(main(args.seconds, args.connections, args.users, args.rate)))
