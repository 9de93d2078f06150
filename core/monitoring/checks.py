"""Health checks of the pipeline and the brokers (OPS-1): scheduler, execution, the roles
`/health/ready` requires, and each broker. Each is bounded by a timeout and never raises."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.clock import Clock
from core.connections.health import HealthStore
from core.health import ComponentHealth
from core.monitoring import heartbeats, jetstream
from core.monitoring.brokers import BrokerHealth, broker_health
from core.monitoring.heartbeats import Heartbeat
from core.repos import monitoring as repo

Verdict = tuple[str | None, dict[str, Any]]
"""Why the component is down (None: it is up), and what was found."""


async def _judge(name: str, probe: Callable[[], Awaitable[Verdict]],
                 timeout_s: float) -> ComponentHealth:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            error, details = await probe()
    except TimeoutError:
        return ComponentHealth(name, False, None, f"no answer within {timeout_s:g}s")
    except Exception as exc:  # noqa: BLE001 — any failure is reported, none is raised
        return ComponentHealth(name, False, None, f"{type(exc).__name__}: {exc}"[:300])
    latency = round((time.perf_counter() - started) * 1000, 3)
    return ComponentHealth(name, error is None, latency, error, details)


def _down(role: str, beats: list[Heartbeat]) -> str | None:
    return None if beats else f"no live {role} heartbeat"


def parse_roles(raw: str) -> list[str]:
    """`ALGO_READY_ROLES` as a list."""
    return [r.strip() for r in raw.split(",") if r.strip()]


async def check_roles(redis: Redis, clock: Clock, roles: Sequence[str],
                      timeout_s: float) -> list[ComponentHealth]:
    """One component per role: up while at least one instance beats."""
    if not roles:
        return []
    found: dict[str, list[Heartbeat]] = {}

    async def read() -> Verdict:
        found.update(heartbeats.by_role(
            await heartbeats.read_all(redis, clock.now().timestamp())))
        return None, {}

    read_result = await _judge("heartbeats", read, timeout_s)
    if not read_result.ok:
        return [ComponentHealth(role, False, None, read_result.error) for role in roles]
    return [ComponentHealth(role, bool(found.get(role)), read_result.latency_ms,
                            _down(role, found.get(role, [])),
                            {"instances": len(found.get(role, []))})
            for role in roles]


async def check_scheduler(redis: Redis, clock: Clock, timeout_s: float) -> ComponentHealth:
    """The trigger: its heartbeat and the next time it will fire."""

    async def probe() -> Verdict:
        beats = heartbeats.by_role(
            await heartbeats.read_all(redis, clock.now().timestamp()))["trigger"]
        times = [str(t) for b in beats if (t := b.counters.get("next_fire_at"))]
        return _down("trigger", beats), {
            "heartbeat_age_s": min((b.age_s for b in beats), default=None),
            "next_fire_at": min(times, default=None),
            "strategies": max((int(b.counters.get("strategies") or 0) for b in beats),
                              default=0),
            "fired": heartbeats.summed(beats, "fired"),
            "held": heartbeats.summed(beats, "held"),
            "missed": heartbeats.summed(beats, "missed"),
            "instances": len(beats)}

    return await _judge("scheduler", probe, timeout_s)


async def check_execution(redis: Redis, js: JetStreamContext,
                          sessions: async_sessionmaker[AsyncSession], clock: Clock,
                          timeout_s: float) -> ComponentHealth:
    """The executor: its heartbeat, the COMMANDS consumer's lag, and the orders in flight."""

    async def probe() -> Verdict:
        beats = heartbeats.by_role(
            await heartbeats.read_all(redis, clock.now().timestamp()))["executor"]
        streams = await jetstream.streams(js, (subjects.COMMANDS,))
        consumers = [c for s in streams for c in s.consumers]
        async with sessions() as session:
            in_flight = await repo.in_flight_orders(session)
        return _down("executor", beats), {
            "heartbeat_age_s": min((b.age_s for b in beats), default=None),
            "consumer_lag": sum(c.pending for c in consumers),
            "pending_acks": sum(c.ack_pending for c in consumers),
            "redelivered": sum(c.redelivered for c in consumers),
            "queued_commands": sum(s.messages for s in streams),
            "in_flight_orders": in_flight,
            "handled": heartbeats.summed(beats, "handled"),
            "sent": heartbeats.summed(beats, "sent"),
            "dead_lettered": heartbeats.summed(beats, "dead_lettered"),
            "instances": len(beats)}

    return await _judge("execution", probe, timeout_s)


async def check_brokers(sessions: async_sessionmaker[AsyncSession], redis: Redis,
                        clock: Clock, timeout_s: float) -> list[ComponentHealth]:
    """One component per broker: down only when its latest probe could not reach it."""
    found: list[BrokerHealth] = []

    async def read() -> Verdict:
        found.extend(await broker_health(sessions, HealthStore(redis), clock.now()))
        return None, {}

    result = await _judge("brokers", read, timeout_s)
    if not result.ok:
        return [result]
    return [ComponentHealth(
        b.broker_type, b.ok, result.latency_ms,
        None if b.ok else f"unreachable: {b.last_error or 'probe failed'}",
        {"reachable": b.reachable,
         "last_checked_at": b.last_checked_at.isoformat() if b.last_checked_at else None,
         "probes_ok": b.probes_ok, "probes_failed": b.probes_failed, "tokens": b.tokens})
        for b in found]
