"""`/admin/system/health` and `/admin/system/metrics` (web/schemas/monitoring.py) as the
dashboard reads them: the wire shapes (the fields used, with defaults so an answer that
lacks one still shows) and their reduction to the dashboard's views."""

from __future__ import annotations

from typing import Any

import msgspec

from console.models import ConsumerLag, HealthView, MetricsView, ServiceState


class _Component(msgspec.Struct):
    ok: bool = False
    latency_ms: float | None = None
    error: str | None = None


class _Instance(msgspec.Struct):
    instance: str = ""
    heartbeat_age_s: float | None = None


class _Role(msgspec.Struct):
    up: bool = False
    instances: list[_Instance] = msgspec.field(default_factory=list)


class _Consumer(msgspec.Struct):
    stream: str = ""
    name: str = ""
    durable: bool = True
    pending: int = 0
    ack_pending: int = 0
    redelivered: int = 0


class _Stream(msgspec.Struct):
    name: str = ""
    consumers: list[_Consumer] = msgspec.field(default_factory=list)


class _NatsServer(msgspec.Struct):
    ok: bool = False
    error: str | None = None


class _Health(msgspec.Struct):
    status: str = "unknown"
    components: dict[str, _Component] = msgspec.field(default_factory=dict)
    roles: dict[str, _Role] = msgspec.field(default_factory=dict)
    streams: list[_Stream] = msgspec.field(default_factory=list)
    nats_server: _NatsServer | None = None


class _Percentiles(msgspec.Struct):
    count: int = 0
    p99_ms: float | None = None


class _Users(msgspec.Struct):
    active: int | None = None


class _Orders(msgspec.Struct):
    total: int | None = None


class _Errors(msgspec.Struct):
    rate_per_min: float | None = None


class _Ticks(msgspec.Struct):
    in_per_s: float | None = None


class _Metrics(msgspec.Struct):
    users: _Users = msgspec.field(default_factory=_Users)
    running_strategies: int | None = None
    orders_today: _Orders = msgspec.field(default_factory=_Orders)
    order_latency_ms: dict[str, _Percentiles] = msgspec.field(default_factory=dict)
    sl_latency_ms: _Percentiles = msgspec.field(default_factory=_Percentiles)
    errors: _Errors = msgspec.field(default_factory=_Errors)
    ticks: _Ticks = msgspec.field(default_factory=_Ticks)


def health_view(raw: dict[str, Any]) -> HealthView:
    """The dashboard's view of `/admin/system/health`: components, then each role's
    instances (a role with none is a DOWN row), then the durable consumers' lag."""
    wire = msgspec.convert(raw, _Health, strict=False)
    services = [ServiceState(name, c.ok, detail=c.error or "")
                for name, c in sorted(wire.components.items())]
    if wire.nats_server is not None and "nats_server" not in wire.components:
        services.append(ServiceState("nats /varz", wire.nats_server.ok,
                                     detail=wire.nats_server.error or ""))
    for role, state in sorted(wire.roles.items()):
        if not state.instances:
            services.append(ServiceState(role, False, detail="no heartbeat"))
        for inst in state.instances:
            services.append(ServiceState(f"{role}/{inst.instance}", state.up,
                                         inst.heartbeat_age_s))
    # Ephemeral consumers (the web's event fan-out, replays) come and go with connections;
    # the lag that matters is the pipeline's durable consumers'.
    consumers = [ConsumerLag(c.stream or s.name, c.name, c.pending, c.ack_pending,
                             c.redelivered)
                 for s in wire.streams for c in s.consumers if c.durable]
    return HealthView(wire.status, services, consumers)


def metrics_view(raw: dict[str, Any]) -> MetricsView:
    """The dashboard's view of `/admin/system/metrics`."""
    wire = msgspec.convert(raw, _Metrics, strict=False)
    completed = wire.order_latency_ms.get("completed") or wire.order_latency_ms.get("sent")
    return MetricsView(
        active_users=wire.users.active,
        running_strategies=wire.running_strategies,
        orders_today=wire.orders_today.total,
        error_rate=wire.errors.rate_per_min,
        ticks_per_s=wire.ticks.in_per_s,
        order_latency_p99_ms=completed.p99_ms if completed else None,
        sl_latency_p99_ms=wire.sl_latency_ms.p99_ms,
    )
