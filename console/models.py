"""What the admin API answers, as the console reads it.

Unknown fields are ignored and most fields have defaults, so a server that adds fields
(or a part of it still being built) does not break the console. Every JSON shape the
console depends on is declared here and decoded in `console/api.py` only.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class Page(msgspec.Struct, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next."""

    items: list[T]
    next_cursor: str | int | None = None


class TokenUser(msgspec.Struct):
    """Who a token pair belongs to."""

    id: str
    email: str
    role: str


class TokenPair(msgspec.Struct):
    """`/auth/login` and `/auth/refresh`."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user: TokenUser


class User(msgspec.Struct):
    """`/admin/users` items."""

    id: str
    email: str
    role: str
    is_active: bool
    created_at: datetime
    updated_at: datetime | None = None
    last_login_at: datetime | None = None


class UserDetail(User):
    """`/admin/users/{id}`."""

    strategy_count: int = 0
    max_daily_loss: Decimal | None = None


class Order(msgspec.Struct):
    """An order as the admin order log and a strategy's history show it."""

    id: str
    strategy_id: str
    action: str
    status: str
    symbol: str = ""
    side: str = ""
    quantity: int = 0
    broker: str = ""
    trading_day: str = ""
    user_id: str | None = None
    status_reason: str | None = None
    average_price: Decimal | None = None
    filled_quantity: int = 0
    attempts: int = 0
    created_at: datetime | None = None
    completed_at: datetime | None = None


class Strategy(msgspec.Struct):
    """`/admin/strategies` items: any user's strategy."""

    id: str
    name: str
    symbol: str
    status: str
    position: str = "NONE"
    user_id: str | None = None
    user_email: str | None = None
    quantity: int = 0
    buy_time: str = ""
    sell_time: str = ""
    is_simulated: bool = False
    broker_credential_id: str = ""
    broker_type: str = ""
    last_action: str | None = None
    status_reason: str | None = None
    consecutive_failures: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class StrategyDetail(msgspec.Struct):
    """`/admin/strategies/{id}`: the strategy and its latest orders (newest first)."""

    strategy: Strategy
    orders: list[Order] = msgspec.field(default_factory=list)


class ForceStop(msgspec.Struct):
    """`/admin/strategies/{id}/force-stop`: the strategy after the stop."""

    strategy: Strategy
    stopped: bool
    square_off: bool = False
    """True when an open position is being squared off."""


class OrderLogEntry(msgspec.Struct):
    """`/admin/logs/orders` items: one broker interaction of an order."""

    id: int
    order_id: str
    strategy_id: str
    user_id: str
    attempt: int
    action: str
    status: str
    created_at: datetime
    outcome: str | None = None
    error: str | None = None
    latency_ms: float | None = None
    trace_id: str | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None


class ErrorEntry(msgspec.Struct):
    """`/admin/logs/errors` items: one persisted ERROR/CRITICAL record."""

    id: int | str
    level: str
    service: str
    message: str
    created_at: datetime
    logger: str = ""
    exception: str | None = None
    trace_id: str | None = None
    user_id: str | None = None
    strategy_id: str | None = None


class DlqRetry(msgspec.Struct):
    """The one retry of a dead letter."""

    subject: str
    duplicate: bool = False
    actor_id: str | None = None
    created_at: datetime | None = None


class DlqEntry(msgspec.Struct):
    """`/admin/dlq` items: a parked command, keyed by its DLQ stream sequence."""

    seq: int
    subject: str = ""
    original_subject: str | None = None
    reason: str | None = None
    deliveries: int | None = None
    msg_id: str | None = None
    parked_at: datetime | None = None
    command: dict[str, Any] | None = None
    raw: str | None = None
    retry: DlqRetry | None = None

    @property
    def action(self) -> str | None:
        """The command's action (BUY, SELL, ...) when its body could be read."""
        value = (self.command or {}).get("action")
        return None if value is None else str(value)


class Halt(msgspec.Struct):
    """An engaged kill switch: `global` or a user id."""

    scope: str
    reason: str
    created_at: datetime
    set_by: str | None = None


class HaltList(msgspec.Struct):
    """`GET /admin/system/halt`."""

    items: list[Halt]


class AuditEntry(msgspec.Struct):
    """`/admin/audit` items."""

    id: str
    action: str
    created_at: datetime
    actor_id: str | None = None
    actor_role: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    ip: str | None = None
    details: dict[str, Any] | None = None


class ServiceState(msgspec.Struct):
    """One row of the dashboard's services table: a component or a pipeline role."""

    name: str
    ok: bool
    heartbeat_age_s: float | None = None
    detail: str = ""


class ConsumerLag(msgspec.Struct):
    """A JetStream consumer's backlog."""

    stream: str
    consumer: str
    pending: int = 0
    ack_pending: int = 0
    redelivered: int = 0


class HealthView(msgspec.Struct):
    """What the dashboard shows of `/admin/system/health`."""

    status: str
    services: list[ServiceState] = msgspec.field(default_factory=list)
    consumers: list[ConsumerLag] = msgspec.field(default_factory=list)


class MetricsView(msgspec.Struct):
    """What the dashboard shows of `/admin/system/metrics` (None: not reported)."""

    active_users: int | None = None
    running_strategies: int | None = None
    orders_today: int | None = None
    error_rate: float | None = None
    ticks_per_s: float | None = None
    order_latency_p99_ms: float | None = None
    sl_latency_p99_ms: float | None = None
