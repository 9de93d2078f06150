"""Which events become notifications, of which type, with what text (LIVE-4).

Rows of `order_failed` and `strategy_error` (executor), `trigger_missed` and `buy_held`
(trigger) are written by their owners, keyed by the same event id; the text here is the
notifier's fallback should it reach the key first (then the owner's insert changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from core.events import SYSTEM_USER, EventType
from core.messages import Event
from core.notification_types import NotificationType

FOLLOWED: Final = (EventType.ORDER_EXECUTED, EventType.ORDER_REJECTED, EventType.SL_TRIGGERED,
                   EventType.STRATEGY_STOPPED, EventType.ERROR)
"""The event types the notifier reads (never NOTIFICATION: those are its own output)."""

_ERROR_KINDS: Final = {"trigger_missed": NotificationType.TRIGGER_MISSED,
                       "buy_held": NotificationType.BUY_HELD,
                       "token_expiry": NotificationType.TOKEN_EXPIRY}


@dataclass(frozen=True, slots=True)
class Draft:
    """A notification to store for the event's user, or for every admin."""

    type: NotificationType
    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)
    for_admins: bool = False


def draft(event: Event) -> Draft | None:
    """The notification an event calls for, if any."""
    d = event.data
    link: dict[str, Any] = {"strategy_id": event.strategy_id, "event_type": event.type}
    if event.user_id == SYSTEM_USER:
        if event.type != EventType.ERROR.value:
            return None
        kind = str(d.get("kind", "alert"))
        return Draft(NotificationType.ADMIN_ALERT, f"Platform alert: {kind}",
                     str(d.get("message", kind)), {**link, "kind": kind}, for_admins=True)
    instrument = f"{d.get('exchange', '')}:{d.get('symbol', '')}"
    if event.type == EventType.ORDER_EXECUTED.value:
        link["order_id"] = d.get("order_id")
        if d.get("status") != "FILLED":
            return Draft(NotificationType.ORDER_FAILED, f"{d.get('action')} order partly filled",
                         f"{d.get('action')} {d.get('quantity')} {instrument}: only "
                         f"{d.get('filled_quantity')} filled before it was cancelled.", link)
        return Draft(NotificationType.ORDER_EXECUTED,
                     f"{d.get('action')} {instrument} executed",
                     f"{d.get('side', d.get('action'))} {d.get('filled_quantity')} "
                     f"{instrument} at ₹{d.get('fill_price')}.", link)
    if event.type == EventType.ORDER_REJECTED.value:
        link["order_id"] = d.get("order_id")
        return Draft(NotificationType.ORDER_FAILED, f"{d.get('action')} order {_lower(d)}",
                     f"{d.get('action')} {d.get('quantity')} {instrument}: "
                     f"{d.get('reason') or d.get('status')}", link)
    if event.type == EventType.SL_TRIGGERED.value:
        level = d.get("level_paise")
        price = "" if level is None else f" (level ₹{int(level) / 100:.2f})"
        return Draft(NotificationType.SL_TRIGGERED, f"Stop-loss triggered — {instrument}",
                     f"{d.get('reason') or d.get('kind')}{price}: {d.get('action')} sent.", link)
    if event.type == EventType.STRATEGY_STOPPED.value:
        if d.get("status") != "ERROR":
            return None
        return Draft(NotificationType.STRATEGY_ERROR, "Strategy stopped",
                     str(d.get("reason") or "too many failures"), link)
    if event.type == EventType.ERROR.value:
        kind = str(d.get("kind", "error"))
        ntype = _ERROR_KINDS.get(kind, NotificationType.STRATEGY_ERROR)
        return Draft(ntype, _error_title(kind, d), str(d.get("message", kind)),
                     {**link, "kind": kind})
    return None


def _lower(d: dict[str, Any]) -> str:
    return str(d.get("status", "failed")).lower()


def _error_title(kind: str, d: dict[str, Any]) -> str:
    if kind == "trigger_missed":
        return f"Missed {d.get('action')}"
    if kind == "buy_held":
        return f"BUY held — {d.get('exchange', '')}:{d.get('symbol', '')}".rstrip(":")
    if kind == "token_expiry":
        return "Broker login expires soon"
    return kind.replace("_", " ").capitalize()
