"""Analytics of one user (ANA-1): per-user days and per-strategy figures, from the daily
rollup up to its watermark and from `orders` after it (see `analytics_queries`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import DailyUserStats, Order, Strategy
from core.repos.analytics_queries import (
    ZERO,
    first_live_day,
    round_trips,
    trip_aggregates,
    user_days_query,
    watermark,
)


@dataclass(frozen=True, slots=True)
class DayRow:
    """One user's (or, summed, everyone's) figures of one trading day."""

    day: date
    user_id: str
    orders_total: int
    orders_filled: int
    orders_rejected: int
    trades: int
    wins: int
    losses: int
    gross_pnl: Decimal


@dataclass(frozen=True, slots=True)
class StrategyRow:
    """One strategy's figures over a range of days."""

    strategy_id: str
    name: str
    symbol: str
    orders_total: int
    orders_filled: int
    orders_rejected: int
    trades: int
    wins: int
    losses: int
    gross_pnl: Decimal
    last_day: date | None


def _day_row(row: Any) -> DayRow:
    return DayRow(day=row.day, user_id=row.user_id, orders_total=int(row.orders_total),
                  orders_filled=int(row.orders_filled),
                  orders_rejected=int(row.orders_rejected), trades=int(row.trades),
                  wins=int(row.wins), losses=int(row.losses),
                  gross_pnl=Decimal(row.gross_pnl).quantize(ZERO))


async def user_days(session: AsyncSession, *, simulated: bool, user_id: str | None = None,
                    start: date | None = None, end: date | None = None,
                    ) -> list[DayRow]:
    """Per-user days from `start` to `end` (inclusive; None = unbounded) of one user, or of
    every user when `user_id` is None: rolled-up rows, then live ones after the watermark."""
    mark = await watermark(session)
    rows: list[DayRow] = []
    if mark is not None and (start is None or start <= mark):
        s = DailyUserStats
        query = select(s).where(s.is_simulated.is_(simulated), s.day <= mark)
        if user_id is not None:
            query = query.where(s.user_id == user_id)
        if start is not None:
            query = query.where(s.day >= start)
        if end is not None:
            query = query.where(s.day <= end)
        for r in (await session.execute(query)).scalars():
            rows.append(DayRow(day=r.day, user_id=r.user_id, orders_total=r.orders_total,
                               orders_filled=r.orders_filled,
                               orders_rejected=r.orders_rejected, trades=r.trades,
                               wins=r.wins, losses=r.losses, gross_pnl=r.gross_pnl))
    first = first_live_day(mark, start)
    if end is not None and first is not None and first > end:
        return rows
    where: list[ColumnElement[bool]] = [Order.is_simulated.is_(simulated)]
    if user_id is not None:
        where.append(Order.user_id == user_id)
    if first is not None:
        where.append(Order.trading_day >= first)
    if end is not None:
        where.append(Order.trading_day <= end)
    rows += [_day_row(r) for r in await session.execute(user_days_query(*where))]
    return rows


async def strategy_totals(session: AsyncSession, user_id: str, *, simulated: bool,
                          start: date | None = None, end: date | None = None,
                          ) -> list[StrategyRow]:
    """Per-strategy figures of one user's orders (an indexed read of that user's orders
    only), best P&L first."""
    where: list[ColumnElement[bool]] = [Order.user_id == user_id,
                                        Order.is_simulated.is_(simulated)]
    if start is not None:
        where.append(Order.trading_day >= start)
    if end is not None:
        where.append(Order.trading_day <= end)
    c = round_trips(*where).c
    per = (select(c.strategy_id, func.max(c.day).label("last_day"), *trip_aggregates(c))
           .group_by(c.strategy_id).subquery())
    query = (select(per, Strategy.name, Strategy.exchange, Strategy.symbol)
             .join(Strategy, and_(Strategy.id == per.c.strategy_id,
                                  Strategy.user_id == user_id))
             .order_by(per.c.gross_pnl.desc(), per.c.strategy_id))
    return [StrategyRow(strategy_id=r.strategy_id, name=r.name,
                        symbol=f"{r.exchange}:{r.symbol}", orders_total=int(r.orders_total),
                        orders_filled=int(r.orders_filled),
                        orders_rejected=int(r.orders_rejected), trades=int(r.trades),
                        wins=int(r.wins), losses=int(r.losses),
                        gross_pnl=Decimal(r.gross_pnl).quantize(ZERO), last_day=r.last_day)
            for r in await session.execute(query)]
