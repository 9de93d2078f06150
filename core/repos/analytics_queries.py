"""SQL aggregates of orders and fills for analytics (ANA-1…ANA-3): the shared queries.

Every figure is a day's: per (user, day) and per (day, broker). Days up to the last rolled-up
one are read from the daily tables, later days from `orders` (the "live" part), so dashboards
never scan all orders. P&L is `core.risk`'s round trip (one formula for the daily-loss halt
and for analytics). Real and simulated orders are never mixed: every read takes
`simulated` and filters on it.

Order counts: `orders_total` is every order that was tried (all but SKIPPED, which never
reached a broker), `orders_filled` the FILLED ones, `orders_rejected` those that ended with
nothing or only part filled (REJECTED, FAILED, CANCELLED); the rest are still settling.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import OrderStatus
from core.db.models import AnalyticsRollupDay, Order
from core.risk import FILLED_ONLY, fill_sums, round_trip_pnl

ENDED_UNFILLED: Final = (OrderStatus.REJECTED.value, OrderStatus.FAILED.value,
                         OrderStatus.CANCELLED.value)
TRIED: Final = Order.status != OrderStatus.SKIPPED.value
ZERO: Final = Decimal("0.00")


def order_counts() -> list[Any]:
    """Orders tried, FILLED and ended unfilled (see the module docstring)."""
    return [func.count().filter(TRIED).label("orders_total"),
            func.count().filter(Order.status == OrderStatus.FILLED.value).label("orders_filled"),
            func.count().filter(Order.status.in_(ENDED_UNFILLED)).label("orders_rejected")]


def round_trips(*where: ColumnElement[bool]) -> Any:
    """Per (user, strategy, day, simulated): order counts and the fill sums of P&L."""
    return (select(Order.user_id, Order.strategy_id, Order.trading_day.label("day"),
                   Order.is_simulated, *order_counts(), *fill_sums())
            .where(*where)
            .group_by(Order.user_id, Order.strategy_id, Order.trading_day, Order.is_simulated)
            .subquery())


def trip_aggregates(c: Any) -> list[Any]:
    """Summed counts, trades, wins, losses and P&L of `round_trips` rows."""
    pnl = round_trip_pnl(c)
    return [func.sum(c.orders_total).label("orders_total"),
            func.sum(c.orders_filled).label("orders_filled"),
            func.sum(c.orders_rejected).label("orders_rejected"),
            func.count(pnl).label("trades"),
            func.count().filter(pnl > 0).label("wins"),
            func.count().filter(pnl < 0).label("losses"),
            # Rounded per day, as the rollup stores it, so live and rolled-up days agree.
            func.round(func.coalesce(func.sum(pnl), 0), 2).label("gross_pnl")]


def user_days_query(*where: ColumnElement[bool]) -> Select[Any]:
    """(user_id, day, is_simulated, counts…, trades, wins, losses, gross_pnl) of the orders
    matching `where`, one row per user, day and kind."""
    c = round_trips(*where).c
    return (select(c.user_id, c.day, c.is_simulated, *trip_aggregates(c))
            .group_by(c.user_id, c.day, c.is_simulated))


def broker_days_query(*where: ColumnElement[bool]) -> Select[Any]:
    """(day, is_simulated, broker_type, counts…, turnover) of the orders matching `where`."""
    filled_value = func.sum(Order.average_price * Order.filled_quantity).filter(*FILLED_ONLY)
    return (select(Order.trading_day.label("day"), Order.is_simulated, Order.broker_type,
                   *order_counts(), func.coalesce(filled_value, 0).label("turnover"))
            .where(*where)
            .group_by(Order.trading_day, Order.is_simulated, Order.broker_type))


def first_live_day(watermark: date | None, start: date | None) -> date | None:
    """The first day read live: after the watermark and not before `start`."""
    first = None if watermark is None else date.fromordinal(watermark.toordinal() + 1)
    if start is None:
        return first
    return start if first is None else max(first, start)


async def watermark(session: AsyncSession) -> date | None:
    """The last rolled-up day (every earlier day with orders is rolled up too)."""
    day: date | None = (await session.execute(
        select(func.max(AnalyticsRollupDay.day)))).scalar_one()
    return day
