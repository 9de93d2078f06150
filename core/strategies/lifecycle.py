"""The strategy lifecycle as one state machine (DESIGN §5).

    CREATED ──start──► RUNNING ──stop──► STOPPED ──start──► RUNNING
                          │
                          ├──complete──► COMPLETED (the day's cycle ended)
                          └──fail─────► ERROR ──start──► RUNNING (after the cause is fixed)

Deleting is allowed in every state but RUNNING. While RUNNING only the stop-loss,
target, trailing stop and times may change; everything else needs a stop first.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from core import error_codes
from core.db.enums import StrategyStatus
from core.errors import Conflict

S = StrategyStatus


class Action(StrEnum):
    """Something that changes (or would change) a strategy's status."""

    START = "start"
    STOP = "stop"
    COMPLETE = "complete"
    FAIL = "fail"
    DELETE = "delete"


TRANSITIONS: Final[dict[tuple[StrategyStatus, Action], StrategyStatus | None]] = {
    (S.CREATED, Action.START): S.RUNNING,
    (S.STOPPED, Action.START): S.RUNNING,
    (S.COMPLETED, Action.START): S.RUNNING,
    (S.ERROR, Action.START): S.RUNNING,
    (S.RUNNING, Action.STOP): S.STOPPED,
    (S.RUNNING, Action.COMPLETE): S.COMPLETED,
    (S.RUNNING, Action.FAIL): S.ERROR,
    (S.CREATED, Action.DELETE): None,
    (S.STOPPED, Action.DELETE): None,
    (S.COMPLETED, Action.DELETE): None,
    (S.ERROR, Action.DELETE): None,
}
"""(from, action) → to; `None` means the strategy is gone. Absent pairs are illegal."""

EDITABLE_WHILE_RUNNING: Final = frozenset(
    {"name", "buy_time", "sell_time", "stop_loss", "target_price", "trailing_sl_pct"})


def transition(status: StrategyStatus | str, action: Action) -> StrategyStatus | None:
    """The status after `action`, or Conflict (409, STR_009) if it is not allowed now."""
    current = StrategyStatus(status)
    key = (current, action)
    if key not in TRANSITIONS:
        raise Conflict(f"Cannot {action.value} a strategy that is {current.value}",
                       code=error_codes.STR_ILLEGAL_TRANSITION,
                       details={"status": current.value, "action": action.value})
    return TRANSITIONS[key]


def check_edit(status: StrategyStatus | str, fields: set[str]) -> None:
    """Refuse changes to fields that cannot change while the strategy runs (STR_010)."""
    if StrategyStatus(status) is not StrategyStatus.RUNNING:
        return
    locked = sorted(fields - EDITABLE_WHILE_RUNNING)
    if locked:
        raise Conflict("Stop the strategy to change these fields",
                       code=error_codes.STR_LOCKED_WHILE_RUNNING,
                       details={"fields": locked})
