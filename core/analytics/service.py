"""User analytics (ANA-1): summary, performance by period and per-strategy figures, each
answer cached for the user until it expires or a new fill arrives."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.analytics import figures
from core.analytics.cache import AnalyticsCache
from core.analytics.figures import Performance, Period, StrategyFigures, StrategyList, Summary
from core.clock import Clock, trading_day
from core.errors import ValidationFailed
from core.repos import analytics_user as repo

MAX_DAYS = 3660
"""Longest range of one performance or admin query (about ten years)."""
MAX_DAILY_DAYS = 400
"""Longest range of a daily breakdown (a point per day)."""


def date_range(clock: Clock, period: Period, start: date | None,
               end: date | None) -> tuple[date, date]:
    """The range asked for, defaulted (the last buckets up to today) and checked."""
    end = end or trading_day(clock)
    start = start or figures.default_start(end, period)
    span = (end - start).days
    if span < 0:
        raise ValidationFailed("`start` must not be after `end`")
    if span > (MAX_DAILY_DAYS if period is Period.DAILY else MAX_DAYS):
        raise ValidationFailed("the range is too long for this period")
    return start, end


class UserAnalytics:
    """One user's figures, real or simulated, never both at once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: AnalyticsCache,
                 clock: Clock) -> None:
        self._sessions = sessions
        self._cache = cache
        self._clock = clock

    async def summary(self, user_id: str, *, simulated: bool) -> Summary:
        """Realised P&L, order counts and rates, wins and losses over all days."""
        async def compute() -> Summary:
            async with self._sessions() as session:
                rows = await repo.user_days(session, simulated=simulated, user_id=user_id)
            return figures.summary(rows, simulated=simulated)

        return await self._cache.user(user_id, f"summary:{int(simulated)}", Summary, compute)

    async def performance(self, user_id: str, *, simulated: bool, period: Period,
                          start: date | None = None, end: date | None = None) -> Performance:
        """Figures per day, week or month from `start` to `end` (defaults: the last 30 days,
        12 weeks or 12 months)."""
        lo, hi = date_range(self._clock, period, start, end)

        async def compute() -> Performance:
            async with self._sessions() as session:
                rows = await repo.user_days(session, simulated=simulated, user_id=user_id,
                                            start=figures.bucket_start(lo, period), end=hi)
            return figures.performance(rows, simulated=simulated, period=period, start=lo,
                                       end=hi)

        query = f"performance:{int(simulated)}:{period.value}:{lo}:{hi}"
        return await self._cache.user(user_id, query, Performance, compute)

    async def strategies(self, user_id: str, *, simulated: bool, start: date | None = None,
                         end: date | None = None) -> StrategyList:
        """Per-strategy figures of the user's own strategies (optionally within a range)."""
        async def compute() -> StrategyList:
            async with self._sessions() as session:
                rows = await repo.strategy_totals(session, user_id, simulated=simulated,
                                                  start=start, end=end)
            items = [figures.finish(StrategyFigures(
                strategy_id=r.strategy_id, name=r.name, symbol=r.symbol, last_day=r.last_day,
                realized_pnl=r.gross_pnl, orders_total=r.orders_total,
                orders_filled=r.orders_filled, orders_rejected=r.orders_rejected,
                trades=r.trades, wins=r.wins, losses=r.losses)) for r in rows]
            return StrategyList(simulated=simulated, items=items)

        query = f"strategies:{int(simulated)}:{start}:{end}"
        return await self._cache.user(user_id, query, StrategyList, compute)
