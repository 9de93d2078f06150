"""The documented JSON schema of every event type (LIVE-1): the `data` object of each.

Every event is the `Event` envelope of core/messages.py; its `data` has the shape declared
here for its `type`. `algo events-doc` (or `events_markdown()`) renders docs/events.md, and
a test keeps the two in step. Unknown keys may be added later (readers ignore them).
"""

from __future__ import annotations

import json
from typing import Any, Final

import msgspec

from core.events import EventType
from core.messages import Event


class _Order(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    order_id: str
    action: str
    """BUY, SELL, SL_EXIT or SQUARE_OFF."""
    side: str
    status: str
    """The order's final status (FILLED, CANCELLED, REJECTED, FAILED …)."""
    exchange: str
    symbol: str
    quantity: int
    trading_day: str
    broker: str
    is_simulated: bool
    position: str
    """The strategy's position after this order (NONE, BOUGHT, SOLD, SL_HIT)."""


class OrderExecutedData(_Order, kw_only=True):
    """ORDER_EXECUTED: an order bought or sold something (wholly or in part)."""

    filled_quantity: int
    fill_price: str | None
    """Average fill price in rupees, a decimal string."""
    broker_order_id: str | None
    latency_ms: float | None
    """Intent row → final outcome."""
    entry_price: str | None = None
    """BUY only: the position's entry price."""


class OrderRejectedData(_Order, kw_only=True):
    """ORDER_REJECTED: an order ended with nothing filled."""

    reason: str | None
    consecutive_failures: int


class SlTriggeredData(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """SL_TRIGGERED: a stop-loss, target or trailing stop was breached; an exit was sent."""

    kind: str
    """stop_loss, target or trailing."""
    action: str
    reason: str
    exchange: str
    symbol: str
    ltp_paise: int
    level_paise: int
    exchange_ts: int
    """Exchange time of the breaching tick, epoch nanoseconds."""
    trading_day: str


class StrategyStartedData(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """STRATEGY_STARTED: the strategy is RUNNING."""

    status: str


class StrategyUpdatedData(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """STRATEGY_UPDATED: settings changed (a running strategy is re-armed live)."""

    status: str
    changed: list[str] = msgspec.field(default_factory=list)


class StrategyStoppedData(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """STRATEGY_STOPPED: stopped by the user, an admin, or failures (status ERROR)."""

    status: str
    reason: str | None = None
    square_off: bool | None = None
    """True when an open position is being squared off."""


class ErrorData(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """ERROR: something needs attention; `kind` says what (trigger_missed, buy_held,
    feed_stale, command_dead_lettered, token_expiry …). On `events.system.-.ERROR` it is an
    admin alert."""

    kind: str
    message: str
    action: str | None = None
    trading_day: str | None = None
    exchange: str | None = None
    symbol: str | None = None


class NotificationData(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """NOTIFICATION: a stored notification delivered live (from the notifier), or an
    informational notice with `kind` and `message` (e.g. feed_recovered) that is not stored."""

    notification_id: str | None = None
    type: str | None = None
    """A notification type: order_executed, order_failed, sl_triggered, strategy_error,
    trigger_missed, buy_held, token_expiry, admin_alert."""
    title: str | None = None
    body: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    source_event_id: str | None = None
    created_at: str | None = None
    kind: str | None = None
    message: str | None = None


SCHEMAS: Final[dict[EventType, type[msgspec.Struct]]] = {
    EventType.ORDER_EXECUTED: OrderExecutedData,
    EventType.ORDER_REJECTED: OrderRejectedData,
    EventType.SL_TRIGGERED: SlTriggeredData,
    EventType.STRATEGY_STARTED: StrategyStartedData,
    EventType.STRATEGY_UPDATED: StrategyUpdatedData,
    EventType.STRATEGY_STOPPED: StrategyStoppedData,
    EventType.ERROR: ErrorData,
    EventType.NOTIFICATION: NotificationData,
}


def decode_data(event: Event) -> msgspec.Struct:
    """The event's `data` as its type's Struct (raises msgspec.ValidationError if it
    does not match)."""
    return msgspec.convert(event.data, SCHEMAS[EventType(event.type)])


def json_schema(event_type: EventType) -> dict[str, Any]:
    """The JSON Schema of one type's `data`."""
    schema: dict[str, Any] = msgspec.json.schema(SCHEMAS[event_type])
    return schema


def events_markdown() -> str:
    """docs/events.md: the envelope and one schema per type."""
    envelope = json.dumps(msgspec.json.schema(Event), indent=2, sort_keys=True)
    parts = ["# Event types\n",
             "Generated from `core/event_schemas.py` (`algo events-doc`); do not edit.\n",
             "Every event on `events.{user_id}.{strategy_id|-}.{TYPE}` and every SSE `data:`",
             "line is this envelope; `data` has the shape of its type below.\n",
             "```json", envelope, "```\n"]
    for event_type, struct in SCHEMAS.items():
        doc = (struct.__doc__ or "").strip()
        parts += [f"## {event_type.value}\n", doc + "\n", "```json",
                  json.dumps(json_schema(event_type), indent=2, sort_keys=True), "```\n"]
    return "\n".join(parts)
