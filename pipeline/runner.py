"""Run any set of roles in one process, sharing one connection of each kind."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence

from core import aio
from core.clock import Clock, RealClock
from core.db.engine import create_engine, session_factory
from core.errorlog import start_error_log
from core.logging import cloudwatch_target, configure_logging
from core.nats import connect_nats
from core.redis import create_redis
from core.settings import Settings
from pipeline.context import ServiceContext
from pipeline.roles import ROLES
from pipeline.service import Service

log = logging.getLogger("algo.pipeline")


class UnknownRole(ValueError):
    """A role name that is not in the registry."""


def resolve_roles(names: Sequence[str]) -> list[type[Service]]:
    """The service classes for `names`, in order, without repeats; `all` means every role."""
    wanted = list(ROLES) if "all" in names else list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in ROLES]
    if unknown or not wanted:
        raise UnknownRole(f"unknown role(s) {unknown}; choose from {', '.join(ROLES)} or all")
    return [ROLES[n] for n in wanted]


async def run_roles(names: Sequence[str], settings: Settings, *,
                    clock: Clock | None = None, stop: asyncio.Event | None = None) -> None:
    """Start the roles, wait for `stop` (or SIGTERM/SIGINT), then stop them and drain NATS."""
    classes = resolve_roles(names)
    if not (settings.database_url and settings.redis_url and settings.nats_url):
        raise RuntimeError("pipeline roles need ALGO_DATABASE_URL, ALGO_REDIS_URL and "
                           "ALGO_NATS_URL (algo up sets them)")
    own_stop = stop is None
    stop = stop or asyncio.Event()
    if own_stop and threading.current_thread() is threading.main_thread():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    # The executor works on many commands at once. Its pool has no overflow: an overflow
    # connection is closed as soon as it is returned, so under a burst every checkout past
    # the pool forked a PostgreSQL backend (hundreds per thousand orders); waiting for a
    # pooled connection is far cheaper.
    pool_size, overflow = settings.db_pool_size, settings.db_max_overflow
    if any(c.role == "executor" for c in classes):
        pool_size, overflow = max(pool_size, min(settings.executor_concurrency, 24)), 0
    engine = create_engine(settings.database_url, pool_size=pool_size, max_overflow=overflow,
                           slow_query_ms=settings.slow_query_ms, pre_ping=False)
    redis = create_redis(settings.redis_url)
    try:
        nc = await connect_nats(settings.nats_url,
                                name=f"pipeline:{','.join(c.role for c in classes)}")
    except BaseException:
        await redis.aclose()
        await engine.dispose()
        raise
    ctx = ServiceContext(nc=nc, js=nc.jetstream(), sessions=session_factory(engine), redis=redis,
                         clock=clock or RealClock(), settings=settings,
                         instance=f"{socket.gethostname()}-{os.getpid()}")
    services = [cls(ctx) for cls in classes]
    started: list[Service] = []
    errors = start_error_log(",".join(c.role for c in classes), ctx.sessions, ctx.js,
                             ctx.clock, settings)
    try:
        for service in services:
            await service.start()
            started.append(service)
        # Everything built so far lives as long as the process: keep it out of the
        # collector's generations, so a full collection cannot delay a timer or a tick.
        gc.freeze()
        await stop.wait()
    finally:
        for service in reversed(started):
            try:
                await service.stop()
            except Exception:
                log.exception("error stopping %s", service.role)
        await errors.stop()
        if not nc.is_closed:
            await nc.drain()
        await redis.aclose()
        await engine.dispose()


def main(argv: Sequence[str]) -> None:
    """Entry point of `algo pipeline ROLE…` / `python -m pipeline ROLE…`."""
    settings = Settings()
    configure_logging("pipeline", settings.log_level, json_lines=settings.log_json,
                      cloudwatch=cloudwatch_target(settings))
    resolve_roles(argv)
    aio.run(run_roles(argv, settings))
