"""Health checks of the shared infrastructure, each bounded by a timeout (OPS-1)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """The result of checking one component."""

    name: str
    ok: bool
    latency_ms: float | None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def timed(name: str, probe: Callable[[], Awaitable[dict[str, Any]]],
                timeout_s: float) -> ComponentHealth:
    """Run `probe` within `timeout_s`: its details when it answers, else why not."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            details = await probe()
    except TimeoutError:
        return ComponentHealth(name, False, None, f"no answer within {timeout_s:g}s")
    except Exception as exc:  # noqa: BLE001 — any failure is reported, none is raised
        return ComponentHealth(name, False, None, f"{type(exc).__name__}: {exc}"[:300])
    latency = round((time.perf_counter() - started) * 1000, 3)
    return ComponentHealth(name, True, latency, None, details)


async def check_db(engine: AsyncEngine, timeout_s: float) -> ComponentHealth:
    """`SELECT 1` on a pooled connection."""

    async def probe() -> dict[str, Any]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        pool = engine.pool
        return {"pool_checked_out": pool.checkedout()} if isinstance(pool, QueuePool) else {}

    return await timed("db", probe, timeout_s)


async def check_redis(redis: Redis, timeout_s: float) -> ComponentHealth:
    """`PING`."""

    async def probe() -> dict[str, Any]:
        await redis.ping()
        return {}

    return await timed("redis", probe, timeout_s)


async def check_nats(nc: NatsClient, js: JetStreamContext, timeout_s: float) -> ComponentHealth:
    """Connected, and JetStream answers an account-info request."""

    async def probe() -> dict[str, Any]:
        if not nc.is_connected:
            raise ConnectionError("not connected to NATS")
        info = await js.account_info()
        return {"server": nc.connected_url.netloc if nc.connected_url else None,
                "streams": info.streams}

    return await timed("nats", probe, timeout_s)
