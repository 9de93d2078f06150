"""Step 6 of the order path (DESIGN §4): what an outcome does to the rows, and what must
be announced afterwards.

`record()` changes the order and strategy rows and states what the caller's transaction
must write (core.repos.order_path.Writes). From the committed rows alone, `announcement()`
derives the events (with ids fixed at commit), the runtime copy and any follow-up command;
a redelivered command whose order is already final derives the very same announcement, so
republishing it is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from core.clock import IST
from core.commands import build_command
from core.db.enums import OrderAction, OrderStatus, Position, StrategyStatus
from core.db.models import Order, Strategy
from core.events import EventPublisher, EventType
from core.ids import new_id, sibling_id
from core.messages import Event, OrderCommand
from core.repos import orders as orders_repo
from core.repos.order_path import Writes
from core.strategies.runtime import StrategyRuntime, from_row
from pipeline.executor.outcome import Outcome
from pipeline.executor.rules import EXITS

MAX_CONSECUTIVE_FAILURES: Final = 3
_UNFILLED_ENDS: Final = frozenset({OrderStatus.REJECTED.value, OrderStatus.FAILED.value,
                                   OrderStatus.CANCELLED.value})


def _failed(order: Order) -> bool:
    """Ended with nothing bought or sold (a skip is not a failure: nothing was tried)."""
    return order.status in _UNFILLED_ENDS and order.filled_quantity == 0


def _traded(order: Order) -> bool:
    """Bought or sold something, wholly (FILLED) or in part (CANCELLED after a part)."""
    return order.filled_quantity > 0 and order.status in (
        OrderStatus.FILLED.value, OrderStatus.CANCELLED.value)


def _bump(strategy: Strategy, now: datetime) -> None:
    strategy.rev += 1
    strategy.updated_at = now


def record(writes: Writes, order: Order, strategy: Strategy, outcome: Outcome,
           now: datetime) -> None:
    """Apply `outcome` to the order (and, once final, to the strategy) with its attempt logs,
    and add what changed to `writes`."""
    base = order.attempts
    for number, attempt in enumerate(outcome.attempts, start=1):
        writes.log(order, attempt=base + number, status=outcome.status.value,
                   outcome=attempt.outcome, request=attempt.request, response=attempt.response,
                   error=attempt.error, latency_us=attempt.latency_us)
    order.attempts = base + len(outcome.attempts)
    order.status = outcome.status.value
    order.status_reason = outcome.reason
    if outcome.sends and order.sent_at is None:
        order.sent_at = now
    placed = outcome.broker_order
    if placed is not None:
        order.broker_order_id = placed.broker_order_id
        order.filled_quantity = placed.filled_quantity
        order.average_price = placed.average_price
    writes.order_changed(order)
    if orders_repo.is_final(order.status):
        order.completed_at = now
        order.event_id = new_id("evt")
        rev = strategy.rev
        _settle_strategy(order, strategy, now)
        if strategy.rev != rev:  # every change of the strategy moves its rev
            writes.strategy_changed(strategy)
        _notify(writes, order, strategy)


def _settle_strategy(order: Order, strategy: Strategy, now: datetime) -> None:
    action = OrderAction(order.action)
    if _traded(order):
        strategy.last_action = action.value
        strategy.consecutive_failures = 0
        if action is OrderAction.BUY:
            strategy.position = Position.BOUGHT.value
            strategy.position_day = order.trading_day
            strategy.entry_price = order.average_price
        elif order.status == OrderStatus.FILLED.value:
            # An exit is sized to what is left of the position, so a full fill closes it.
            strategy.position = (Position.SL_HIT if action is OrderAction.SL_EXIT
                                 else Position.SOLD).value
        _bump(strategy, now)
    elif _failed(order):
        strategy.consecutive_failures += 1
        if strategy.consecutive_failures >= MAX_CONSECUTIVE_FAILURES \
                and strategy.status == StrategyStatus.RUNNING.value:
            strategy.status = StrategyStatus.ERROR.value
            strategy.status_reason = (f"{strategy.consecutive_failures} consecutive order "
                                      f"failures; last: {order.status_reason}")[:256]
            strategy.stopped_at = now
        _bump(strategy, now)


def _notify(writes: Writes, order: Order, strategy: Strategy) -> None:
    """Failures reach the user as notifications in the same transaction (one per event)."""
    partial = order.status == OrderStatus.CANCELLED.value and order.filled_quantity > 0
    if not (_failed(order) or partial) or order.event_id is None:
        return
    open_position = order.action in {a.value for a in EXITS} \
        and strategy.position == Position.BOUGHT.value
    body = f"{order.action} {order.quantity} {order.exchange}:{order.symbol}: " \
           f"{order.status_reason or order.status}"
    if partial:
        body += f" (only {order.filled_quantity} filled before it was cancelled)"
    if open_position:
        body += ". The position is still open: exit it at the broker, or stop the strategy " \
                "to square it off."
    writes.notify(
        event_id=order.event_id, user_id=order.user_id, type="order_failed",
        title=f"{order.action} order {order.status.lower()} — {strategy.name}", body=body,
        data={"order_id": order.id, "strategy_id": strategy.id})
    if strategy.status == StrategyStatus.ERROR.value \
            and strategy.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
        writes.notify(
            event_id=sibling_id(order.event_id, 1), user_id=order.user_id,
            type="strategy_error", title=f"Strategy stopped — {strategy.name}",
            body=strategy.status_reason or "too many failures",
            data={"strategy_id": strategy.id})


@dataclass
class Announcement:
    """What to tell the rest of the system once the rows are committed."""

    events: list[Event] = field(default_factory=list)
    runtime: StrategyRuntime | None = None
    """Put this runtime copy (rev-guarded) when the strategy is running ..."""
    drop: tuple[str, str, int] | None = None
    """... or drop (user, strategy, rev) when it is not."""
    commands: list[OrderCommand] = field(default_factory=list)


def announcement(order: Order, strategy: Strategy, publisher: EventPublisher,
                 now: datetime) -> Announcement:
    """Events, runtime sync and follow-up commands implied by the committed rows."""
    result = Announcement()
    if strategy.status == StrategyStatus.RUNNING.value:
        result.runtime = from_row(strategy)
    else:
        result.drop = (strategy.user_id, strategy.id, strategy.rev)
    if order.event_id is None:
        return result
    result.events.append(_order_event(order, strategy, publisher))
    if _failed(order) and strategy.status == StrategyStatus.ERROR.value \
            and strategy.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
        result.events.append(publisher.build(
            EventType.STRATEGY_STOPPED, user_id=strategy.user_id, strategy_id=strategy.id,
            rev=strategy.rev, event_id=sibling_id(order.event_id, 1),
            data={"status": strategy.status, "reason": strategy.status_reason}))
    if _needs_square_off(order, strategy, now):
        result.commands.append(build_command(
            now, user_id=strategy.user_id, strategy_id=strategy.id,
            trading_day=order.trading_day.isoformat(), action=OrderAction.SQUARE_OFF,
            reason="square_off", rev=strategy.rev))
    return result


def _needs_square_off(order: Order, strategy: Strategy, now: datetime) -> bool:
    """A BUY that filled after the strategy stopped, or after its sell time, must be exited
    at once: nothing else would."""
    if order.action != OrderAction.BUY.value or not _traded(order) \
            or strategy.position != Position.BOUGHT.value:
        return False
    if strategy.status != StrategyStatus.RUNNING.value:
        return True
    local = now.astimezone(IST)
    return local.date() == order.trading_day and local.time() >= strategy.sell_time


def _order_event(order: Order, strategy: Strategy, publisher: EventPublisher) -> Event:
    assert order.event_id is not None
    data: dict[str, Any] = {
        "order_id": order.id, "action": order.action, "side": order.side,
        "status": order.status, "exchange": order.exchange, "symbol": order.symbol,
        "quantity": order.quantity, "trading_day": order.trading_day.isoformat(),
        "broker": order.broker_type, "is_simulated": order.is_simulated,
        "position": strategy.position,
    }
    if _traded(order):
        data.update(filled_quantity=order.filled_quantity,
                    fill_price=None if order.average_price is None else str(order.average_price),
                    broker_order_id=order.broker_order_id,
                    latency_ms=_latency_ms(order))
        if order.action == OrderAction.BUY.value:
            data["entry_price"] = None if strategy.entry_price is None \
                else str(strategy.entry_price)
        event_type = EventType.ORDER_EXECUTED
    else:
        data.update(reason=order.status_reason,
                    consecutive_failures=strategy.consecutive_failures)
        event_type = EventType.ORDER_REJECTED
    return publisher.build(event_type, user_id=order.user_id, strategy_id=order.strategy_id,
                           rev=strategy.rev, event_id=order.event_id, data=data)


def _latency_ms(order: Order) -> float | None:
    if order.completed_at is None or order.created_at is None:
        return None
    return round((order.completed_at - order.created_at).total_seconds() * 1000, 3)
