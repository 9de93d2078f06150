"""Health endpoints: liveness, readiness, each dependency with its latency, the brokers,
the scheduler and the execution path (OPS-1). Public: they name no user."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import validate_response

from core.health import ComponentHealth, check_db, check_nats, check_redis
from core.monitoring import checks
from web.resources import get_resources

blueprint = Blueprint("health", __name__, url_prefix="/health")


class ComponentStatus(BaseModel):
    """One dependency's state."""

    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    details: dict[str, Any] = {}


class HealthReport(BaseModel):
    """`ok` when every listed component is healthy; `failing` names the others."""

    status: str
    components: dict[str, ComponentStatus]
    failing: list[str]


class Liveness(BaseModel):
    """The process answers."""

    status: str


def _report(results: list[ComponentHealth]) -> tuple[HealthReport, int]:
    failing = [r.name for r in results if not r.ok]
    report = HealthReport(
        status="ok" if not failing else "unavailable",
        components={r.name: ComponentStatus(ok=r.ok, latency_ms=r.latency_ms, error=r.error,
                                            details=r.details) for r in results},
        failing=failing,
    )
    return report, 200 if not failing else 503


async def _check(*names: str) -> list[ComponentHealth]:
    res = get_resources()
    timeout = res.settings.health_timeout_s
    checks = {
        "db": lambda: check_db(res.engine, timeout),
        "redis": lambda: check_redis(res.redis, timeout),
        "nats": lambda: check_nats(res.nc, res.js, timeout),
    }
    return [await checks[name]() for name in names]


@blueprint.get("")
@validate_response(HealthReport, 200)
@validate_response(HealthReport, 503)
async def health() -> tuple[HealthReport, int]:
    """Overall health: PostgreSQL, Redis and NATS."""
    return _report(await _check("db", "redis", "nats"))


@blueprint.get("/live")
@validate_response(Liveness)
async def live() -> Liveness:
    """Liveness: the process is up and serving (touches no dependency)."""
    return Liveness(status="ok")


@blueprint.get("/ready")
@validate_response(HealthReport, 200)
@validate_response(HealthReport, 503)
async def ready() -> tuple[HealthReport, int]:
    """Readiness: 200 only while PostgreSQL, Redis, NATS and every role named by
    `ALGO_READY_ROLES` are up."""
    res = get_resources()
    roles = checks.parse_roles(res.settings.ready_roles)
    return _report([*await _check("db", "redis", "nats"),
                    *await checks.check_roles(res.redis, res.clock, roles,
                                              res.settings.health_timeout_s)])


@blueprint.get("/db")
@validate_response(HealthReport, 200)
@validate_response(HealthReport, 503)
async def db() -> tuple[HealthReport, int]:
    """PostgreSQL connectivity and query latency."""
    return _report(await _check("db"))


@blueprint.get("/redis")
@validate_response(HealthReport, 200)
@validate_response(HealthReport, 503)
async def redis() -> tuple[HealthReport, int]:
    """Redis connectivity and PING latency."""
    return _report(await _check("redis"))


@blueprint.get("/nats")
@validate_response(HealthReport, 200)
@validate_response(HealthReport, 503)
async def nats() -> tuple[HealthReport, int]:
    """NATS connection and JetStream round-trip latency."""
    return _report(await _check("nats"))


@blueprint.get("/broker")
@validate_response(HealthReport, 200)
@validate_response(HealthReport, 503)
async def broker() -> tuple[HealthReport, int]:
    """Each broker: reachable by its latest probe, and its connections' token states."""
    res = get_resources()
    return _report(await checks.check_brokers(res.sessions, res.redis, res.clock,
                                              res.settings.health_timeout_s))


@blueprint.get("/scheduler")
@validate_response(HealthReport, 200)
@validate_response(HealthReport, 503)
async def scheduler() -> tuple[HealthReport, int]:
    """The trigger: heartbeat age and the next fire time."""
    res = get_resources()
    return _report([await checks.check_scheduler(res.redis, res.clock,
                                                 res.settings.health_timeout_s)])


@blueprint.get("/execution")
@validate_response(HealthReport, 200)
@validate_response(HealthReport, 503)
async def execution() -> tuple[HealthReport, int]:
    """The executor: heartbeat age, command consumer lag and the orders in flight."""
    res = get_resources()
    return _report([await checks.check_execution(res.redis, res.js, res.sessions, res.clock,
                                                 res.settings.health_timeout_s)])
