"""/admin/system/health and /admin/system/metrics (ADM-3): admins only, read-only."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict

from quart import Blueprint
from quart_schema import validate_response

from core.monitoring.heartbeats import Heartbeat
from core.monitoring.jetstream import StreamStats
from core.monitoring.metrics import ERROR_WINDOW, Snapshot
from core.monitoring.system import SystemHealth
from core.rbac import Permission
from web.monitoring import attach, get_monitoring
from web.schemas.monitoring import (
    ComponentOut,
    ConsumerOut,
    ErrorsOut,
    InstanceOut,
    NatsServerOut,
    OrderCount,
    OrdersToday,
    PercentilesOut,
    RoleOut,
    StreamOut,
    SystemHealthOut,
    SystemMetricsOut,
    TicksOut,
    UsersOut,
)
from web.security import require

blueprint = Blueprint("admin_monitoring", __name__, url_prefix="/admin/system")
attach(blueprint)


def _instance(beat: Heartbeat) -> InstanceOut:
    return InstanceOut(instance=beat.instance, host=beat.host, pid=beat.pid,
                       heartbeat_age_s=beat.age_s, started_at=beat.started_at,
                       version=beat.version, counters=beat.counters)


def _stream(stream: StreamStats) -> StreamOut:
    return StreamOut.model_validate(asdict(stream))


def _health(report: SystemHealth) -> SystemHealthOut:
    return SystemHealthOut(
        status="ok" if report.ok else "degraded", as_of=report.at,
        components={c.name: ComponentOut(ok=c.ok, latency_ms=c.latency_ms, error=c.error,
                                         details=c.details) for c in report.components},
        failing=[c.name for c in report.components if not c.ok],
        roles={role: RoleOut(up=bool(beats), instances=[_instance(b) for b in beats])
               for role, beats in report.roles.items()},
        streams=[_stream(s) for s in report.streams],
        nats_server=NatsServerOut.model_validate(asdict(report.nats_server)))


def _metrics(snap: Snapshot) -> SystemMetricsOut:
    by_status: Counter[str] = Counter()
    by_broker: Counter[str] = Counter()
    for status, broker, count in snap.orders_today:
        by_status[status] += count
        by_broker[broker] += count
    return SystemMetricsOut(
        at=snap.at, trading_day=snap.trading_day,
        users=UsersOut(active=snap.users_active, with_running_strategies=snap.users_running),
        running_strategies=snap.strategies_running,
        orders_today=OrdersToday(
            total=sum(by_status.values()), by_status=dict(by_status), by_broker=dict(by_broker),
            items=[OrderCount(status=s, broker=b, count=n) for s, b, n in snap.orders_today]),
        order_latency_ms={k: PercentilesOut.model_validate(asdict(v))
                          for k, v in snap.order_latency.items()},
        sl_latency_ms=PercentilesOut.model_validate(asdict(snap.sl_latency)),
        errors=ErrorsOut(window_s=int(ERROR_WINDOW.total_seconds()), by_level=snap.errors,
                         rate_per_min=snap.error_rate_per_min),
        ticks=TicksOut(in_total=snap.ticks.ticks_in, out_total=snap.ticks.ticks_out,
                       checked_total=snap.ticks.ticks_checked, in_per_s=snap.ticks.in_per_s,
                       out_per_s=snap.ticks.out_per_s),
        roles=snap.role_counters(),
        consumers=[ConsumerOut.model_validate(asdict(c))
                   for s in snap.streams for c in s.consumers])


@blueprint.get("/health")
@require(Permission.ADMIN_SYSTEM)
@validate_response(SystemHealthOut)
async def system_health_report() -> SystemHealthOut:
    """Every component and pipeline role: heartbeats, consumer lag, pending acks,
    redeliveries, and the NATS server's own /varz and /jsz."""
    return _health(await get_monitoring().health.get())


@blueprint.get("/metrics")
@require(Permission.ADMIN_SYSTEM)
@validate_response(SystemMetricsOut)
async def system_metrics() -> SystemMetricsOut:
    """Active users, running strategies, today's orders by status and broker, error rate,
    ticks per second, stop-loss and order latency percentiles."""
    return _metrics(await get_monitoring().metrics.get())
