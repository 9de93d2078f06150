"""The kinds of in-app notification (LIVE-4) and which of them a user cannot silence."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class NotificationType(StrEnum):
    """What a notification is about; preferences are set per type."""

    ORDER_EXECUTED = "order_executed"
    ORDER_FAILED = "order_failed"
    SL_TRIGGERED = "sl_triggered"
    STRATEGY_ERROR = "strategy_error"
    TRIGGER_MISSED = "trigger_missed"
    BUY_HELD = "buy_held"
    TOKEN_EXPIRY = "token_expiry"  # noqa: S105 — a type name, not a secret
    ADMIN_ALERT = "admin_alert"


ALWAYS_IN_APP: Final = frozenset({NotificationType.ORDER_FAILED, NotificationType.STRATEGY_ERROR,
                                  NotificationType.TRIGGER_MISSED, NotificationType.BUY_HELD})
"""Money may be at risk (a position may still be open): these are always stored in-app;
their e-mail and push can still be chosen."""


@dataclass(frozen=True, slots=True)
class Channels:
    """Where notifications of one type go."""

    in_app: bool = True
    email: bool = False
    push: bool = False


DEFAULT: Final = Channels()
"""Until a user chooses: in-app only."""
