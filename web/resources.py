"""The pools of the web process, opened in `before_serving` and closed after (STYLE rule 6)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from quart import Quart, current_app
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.db.engine import create_engine, read_session_factory, session_factory
from core.errorlog import ErrorLogWriter, start_error_log
from core.nats import connect_nats
from core.redis import create_redis
from core.settings import Settings
from web.live.hub import EventHub
from web.services import Services, build_services

_KEY = "algo.resources"


@dataclass
class Resources:
    """One engine, one Redis pool and one NATS connection for the whole process."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    nc: NatsClient
    js: JetStreamContext
    services: Services
    hub: EventHub
    """The process's one fan-out of `events.>` to its SSE connections."""
    reads: async_sessionmaker[AsyncSession]
    """Autocommit sessions for a request's reads (no BEGIN/ROLLBACK round trips)."""
    errors: ErrorLogWriter | None = None
    """Stores this process's ERROR/CRITICAL records in `error_logs` (ADM-4)."""

    @classmethod
    async def open(cls, settings: Settings, clock: Clock) -> Resources:
        """Connect to PostgreSQL, Redis and NATS."""
        if not (settings.database_url and settings.redis_url and settings.nats_url):
            raise RuntimeError("the web process needs ALGO_DATABASE_URL, ALGO_REDIS_URL "
                               "and ALGO_NATS_URL (algo up sets them)")
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size,
                               max_overflow=settings.db_max_overflow,
                               slow_query_ms=settings.slow_query_ms, pre_ping=False)
        redis = create_redis(settings.redis_url)
        try:
            nc = await connect_nats(settings.nats_url, name="web")
        except BaseException:
            await redis.aclose()
            await engine.dispose()
            raise
        sessions = session_factory(engine)
        js = nc.jetstream()
        services = build_services(settings, clock, sessions, redis, js)
        hub = EventHub(js, settings.sse_queue_size)
        try:
            await services.accounts.prepare()
            await hub.start()
        except BaseException:
            await nc.close()
            await redis.aclose()
            await engine.dispose()
            raise
        resources = cls(settings, clock, engine, sessions, redis, nc, js, services, hub,
                        read_session_factory(engine))
        resources.errors = start_error_log("web", sessions, js, clock, settings)
        return resources

    async def close(self) -> None:
        """Drain NATS, then close Redis and the engine."""
        try:
            if self.errors is not None:
                await self.errors.stop()
            await self.hub.stop()
            await self.services.resets.drain()
            await self.services.brokers.close()
            if not self.nc.is_closed:
                await self.nc.drain()
        finally:
            await self.redis.aclose()
            await self.engine.dispose()


def install(app: Quart, resources: Resources) -> None:
    """Make `resources` reachable from request handlers."""
    app.extensions[_KEY] = resources


def uninstall(app: Quart) -> Resources | None:
    """Detach the resources (at shutdown) so they can be closed."""
    resources: Resources | None = app.extensions.pop(_KEY, None)
    return resources


def get_resources() -> Resources:
    """The current app's resources (inside a request or app context)."""
    resources: Resources = current_app.extensions[_KEY]
    return resources
