"""Schemas of /admin/system/health and /admin/system/metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ComponentOut(BaseModel):
    """One component's state; `latency_ms` is how long its check took."""

    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    details: dict[str, Any] = {}


class InstanceOut(BaseModel):
    """One running instance of a pipeline role, as its last heartbeat describes it."""

    instance: str
    host: str | None = None
    pid: int | None = None
    heartbeat_age_s: float
    started_at: float | None = None
    version: str | None = None
    counters: dict[str, Any] = {}


class RoleOut(BaseModel):
    """A pipeline role: up while at least one instance beats."""

    up: bool
    instances: list[InstanceOut]


class ConsumerOut(BaseModel):
    """A JetStream consumer: `pending` is its lag (not yet delivered)."""

    stream: str
    name: str
    durable: bool
    pending: int
    ack_pending: int
    redelivered: int
    waiting: int
    delivered_seq: int
    ack_floor_seq: int


class StreamOut(BaseModel):
    """A JetStream stream's depth and consumers."""

    name: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumers: list[ConsumerOut]


class NatsServerOut(BaseModel):
    """The NATS server's own `/varz` and `/jsz` (a selection), or why they are missing."""

    url: str | None
    ok: bool
    error: str | None = None
    varz: dict[str, Any] = {}
    jsz: dict[str, Any] = {}


class SystemHealthOut(BaseModel):
    """Every component and every pipeline role; `failing` names what is down."""

    status: str
    as_of: datetime
    """When the report was taken: it is shared for up to a few seconds between admins."""
    components: dict[str, ComponentOut]
    failing: list[str]
    roles: dict[str, RoleOut]
    streams: list[StreamOut]
    nats_server: NatsServerOut


class PercentilesOut(BaseModel):
    """Milliseconds; None when there are no samples."""

    count: int
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None


class OrderCount(BaseModel):
    """Orders of one status on one broker."""

    status: str
    broker: str
    count: int


class OrdersToday(BaseModel):
    """Today's orders (IST trading day)."""

    total: int
    by_status: dict[str, int]
    by_broker: dict[str, int]
    items: list[OrderCount]


class UsersOut(BaseModel):
    """Users who may log in, and those running at least one strategy."""

    active: int
    with_running_strategies: int


class ErrorsOut(BaseModel):
    """Persisted ERROR/CRITICAL records over the window."""

    window_s: int
    by_level: dict[str, int]
    rate_per_min: float


class TicksOut(BaseModel):
    """Feed ticks in and out (totals since each instance started, and per second)."""

    in_total: int
    out_total: int
    checked_total: int
    in_per_s: float | None = None
    out_per_s: float | None = None


class SystemMetricsOut(BaseModel):
    """The platform's numbers now."""

    at: datetime
    trading_day: str
    users: UsersOut
    running_strategies: int
    orders_today: OrdersToday
    order_latency_ms: dict[str, PercentilesOut]
    """`sent`: intent stored → sent to the broker; `completed`: → final."""
    sl_latency_ms: PercentilesOut
    """Tick received → exit command stored (the stop-loss watchers' samples)."""
    errors: ErrorsOut
    ticks: TicksOut
    roles: dict[str, dict[str, Any]]
    """Each role's counters summed over its instances."""
    consumers: list[ConsumerOut]
