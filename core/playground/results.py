"""Results of a simulated strategy from its orders (ANA-4): one TradeResult per trading day.

Live simulations are read back from the `orders` table like any strategy's (simulated orders
only, the caller's own); the drawdown needs the prices of the hold, which only a replay
has, so here it is None. The exit kind (trailing or fixed stop) comes from the order's
action: a trailing stop exits with SL_EXIT like a fixed one.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import OrderStatus
from core.db.models import Order, Strategy
from core.errors import NotFound
from core.playground.charges import ChargeRates
from core.playground.trades import Fill, TradeResult, exit_reason, trade_result


async def simulated_strategy(session: AsyncSession, user_id: str,
                             strategy_id: str) -> Strategy:
    """The user's simulated strategy, or NotFound (a real one is not the playground's)."""
    row = (await session.execute(select(Strategy).where(
        Strategy.id == strategy_id, Strategy.user_id == user_id,
        Strategy.is_simulated.is_(True), Strategy.deleted_at.is_(None)))).scalar_one_or_none()
    if row is None:
        raise NotFound("Simulated strategy not found")
    return row


async def results_of(session: AsyncSession, user_id: str, strategy_id: str,
                     rates: ChargeRates) -> list[TradeResult]:
    """One result per trading day the simulated strategy placed orders, oldest first."""
    strategy = await simulated_strategy(session, user_id, strategy_id)
    orders = (await session.execute(select(Order).where(
        Order.strategy_id == strategy_id, Order.user_id == user_id,
        Order.is_simulated.is_(True)).order_by(Order.trading_day, Order.created_at))).scalars()
    days: dict[date, list[Order]] = defaultdict(list)
    for order in orders:
        days[order.trading_day].append(order)
    return [_day(strategy, day, rows, rates) for day, rows in sorted(days.items())]


def _fill(order: Order) -> Fill | None:
    if order.status != OrderStatus.FILLED.value or order.average_price is None \
            or order.completed_at is None:
        return None
    return Fill(order.average_price, order.filled_quantity, order.completed_at)


def _day(strategy: Strategy, day: date, orders: list[Order],
         rates: ChargeRates) -> TradeResult:
    entry = next((f for o in orders if o.side == "BUY" and (f := _fill(o))), None)
    exits = [(o, f) for o in orders if o.side == "SELL" and (f := _fill(o))]
    leave = exits[-1] if exits else None
    return trade_result(
        strategy_id=strategy.id, day=day, exchange=strategy.exchange, symbol=strategy.symbol,
        quantity=strategy.quantity, entry=entry, exit=None if leave is None else leave[1],
        reason=None if leave is None else exit_reason(leave[0].action), rates=rates)


async def own_simulated_ids(session: AsyncSession, user_id: str,
                            strategy_ids: list[str]) -> bool:
    """True if every id is one of the user's simulated strategies."""
    wanted = set(strategy_ids)
    found = set((await session.execute(select(Strategy.id).where(
        Strategy.id.in_(wanted), Strategy.user_id == user_id,
        Strategy.is_simulated.is_(True), Strategy.deleted_at.is_(None)))).scalars())
    return bool(wanted) and found == wanted
