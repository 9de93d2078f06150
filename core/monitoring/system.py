"""Every component and every pipeline role at once, for /admin/system/health (ADM-3)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.health import ComponentHealth, check_db, check_nats, check_redis
from core.monitoring import checks, heartbeats, jetstream
from core.monitoring.heartbeats import Heartbeat
from core.monitoring.jetstream import StreamStats
from core.monitoring.nats_server import NatsMonitor, ServerStats


@dataclass(frozen=True, slots=True)
class Infrastructure:
    """The pools a health report reads through."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    nc: NatsClient
    js: JetStreamContext
    clock: Clock


@dataclass(frozen=True, slots=True)
class SystemHealth:
    """`ok` when every component and every required role is up."""

    ok: bool
    at: datetime
    """When the report was taken (it may be served for a few seconds, see shared.py)."""
    components: list[ComponentHealth]
    roles: dict[str, list[Heartbeat]]
    streams: list[StreamStats]
    nats_server: ServerStats


async def system_health(infra: Infrastructure, monitor: NatsMonitor, *,
                        required_roles: list[str], timeout_s: float) -> SystemHealth:
    """Components, scheduler, execution, brokers, heartbeats, JetStream and the NATS server."""
    at = infra.clock.now()
    async def beats() -> list[Heartbeat]:
        async with asyncio.timeout(timeout_s):
            return await heartbeats.read_all(infra.redis, infra.clock.now().timestamp())

    async def streams() -> list[StreamStats]:
        async with asyncio.timeout(timeout_s):
            return await jetstream.streams(infra.js)

    (db, redis, nats, scheduler, execution, brokers, roles, found_beats, found_streams,
     server) = await asyncio.gather(
        check_db(infra.engine, timeout_s), check_redis(infra.redis, timeout_s),
        check_nats(infra.nc, infra.js, timeout_s),
        checks.check_scheduler(infra.redis, infra.clock, timeout_s),
        checks.check_execution(infra.redis, infra.js, infra.sessions, infra.clock, timeout_s),
        checks.check_brokers(infra.sessions, infra.redis, infra.clock, timeout_s),
        checks.check_roles(infra.redis, infra.clock, required_roles, timeout_s),
        beats(), streams(), monitor.stats(), return_exceptions=True)
    components = [c for c in (db, redis, nats, scheduler, execution)
                  if isinstance(c, ComponentHealth)]
    for group in (brokers, roles):
        if isinstance(group, list):
            components += [c for c in group if isinstance(c, ComponentHealth)]
    required = {"db", "redis", "nats", *required_roles}
    return SystemHealth(
        ok=all(c.ok for c in components if c.name in required), at=at,
        components=components,
        roles=heartbeats.by_role(found_beats if isinstance(found_beats, list) else []),
        streams=found_streams if isinstance(found_streams, list) else [],
        nats_server=server if isinstance(server, ServerStats)
        else ServerStats(monitor.url, False, repr(server)[:300]))
