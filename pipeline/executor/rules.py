"""Step 1 of the order path (DESIGN §4): is this command allowed now? Pure, no I/O.

A command that is not allowed is recorded as SKIPPED with the reason returned here, and
acknowledged; it is never retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.db.enums import OrderAction, Position, StrategyStatus
from core.db.models import Order, Strategy

EXITS = frozenset({OrderAction.SELL, OrderAction.SL_EXIT, OrderAction.TARGET_EXIT,
                   OrderAction.SQUARE_OFF})


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything the rules look at besides the strategy row."""

    action: OrderAction
    command_day: date
    today: date
    market_open: bool
    live_exit: Order | None
    """An exit of the day already under way or done."""
    paper_only: bool
    """The strategy is simulated."""
    broker_type: str


def side_of(action: OrderAction) -> str:
    """BUY for the entry, SELL for every exit."""
    return "SELL" if action in EXITS else "BUY"


def holds_position(strategy: Strategy) -> bool:
    """True while the strategy has bought and not yet exited."""
    return strategy.position == Position.BOUGHT.value


def skip_reason(strategy: Strategy, s: Situation) -> str | None:
    """Why the command must not be executed, or None if it may go to the broker."""
    if s.paper_only and s.broker_type != "paper":
        return "a simulated strategy trades on paper only"
    if s.command_day != s.today:
        return f"stale command for {s.command_day.isoformat()}"
    if not s.market_open:
        return "market closed"
    if s.action is OrderAction.BUY:
        if strategy.status != StrategyStatus.RUNNING.value:
            return f"strategy is {strategy.status}"
        if holds_position(strategy):
            return "a position is already open"
        if strategy.position != Position.NONE.value and strategy.position_day == s.today:
            return "already traded today"
        return None
    # Exits are allowed whatever the strategy's status: an open position must always be
    # closable, even after a stop or an error.
    if not holds_position(strategy):
        return "no open position"
    if s.live_exit is not None:
        return f"exit {s.live_exit.action} already {s.live_exit.status.lower()}"
    return None
