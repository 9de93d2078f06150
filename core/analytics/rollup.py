"""The daily rollup (ANA-3): each finished trading day's orders summed into
`daily_user_stats` and `daily_broker_stats`, so dashboards read a row per user and day
instead of the orders.

Days are rolled up in order (the rolled-up days are contiguous: dashboards read the daily
rows up to the last one and the orders after it). Rolling up a day again replaces its rows
with the same figures, so every run is safe to repeat; the nightly run also re-rolls the
last few days, which picks up an order that settled late (a reconciled UNKNOWN). A fill
arriving for an already rolled-up day re-rolls that day at once (pipeline/notifier).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, trading_day
from core.errors import ValidationFailed
from core.repos import analytics_rollup as repo
from core.repos.analytics_queries import watermark


async def roll_up_day(sessions: async_sessionmaker[AsyncSession], clock: Clock,
                      day: date) -> int:
    """Roll up one finished day (again, or the next one in order); returns its user rows."""
    if day >= trading_day(clock):
        raise ValidationFailed(f"{day} is not over yet: only past days are rolled up")
    async with sessions() as session, session.begin():
        mark = await watermark(session)
        first = await repo.first_unrolled(session)
        if mark is None and first is None:
            first = day  # no orders at all: any day may be recorded as empty
        if first is not None and day > first:
            raise ValidationFailed(f"roll up {first} first: days are rolled up in order "
                                   "(`algo rollup` without --day catches up)")
        return await repo.roll_up(session, day, clock.now())


async def catch_up(sessions: async_sessionmaker[AsyncSession], clock: Clock, *,
                   lookback_days: int = 0) -> dict[date, int]:
    """Roll up every finished day not rolled up yet, after re-rolling the last
    `lookback_days` rolled-up ones; returns the user rows written per day."""
    yesterday = trading_day(clock) - timedelta(days=1)
    async with sessions() as session:
        mark = await watermark(session)
        first = await repo.first_unrolled(session)
    if first is None:
        return {}
    if mark is not None and lookback_days > 0:
        first = min(first, mark - timedelta(days=lookback_days - 1))
    written: dict[date, int] = {}
    day = first
    while day <= yesterday:
        async with sessions() as session, session.begin():
            written[day] = await repo.roll_up(session, day, clock.now())
        day += timedelta(days=1)
    return written


async def reroll_if_rolled(sessions: async_sessionmaker[AsyncSession], clock: Clock,
                           days: set[date]) -> list[date]:
    """Roll up again those of `days` already rolled up (a fill arrived for them late)."""
    async with sessions() as session:
        mark = await watermark(session)
    again = sorted(d for d in days if mark is not None and d <= mark)
    for day in again:
        async with sessions() as session, session.begin():
            await repo.roll_up(session, day, clock.now())
    return again


async def run_cli(database_url: str, clock: Clock, day: date | None, lookback_days: int,
                  ) -> dict[date, int]:
    """`algo rollup [--day D]`: one day (again, or the next in order), else catch up."""
    from core.db.engine import create_engine, session_factory

    engine = create_engine(database_url, pool_size=1)
    try:
        sessions = session_factory(engine)
        if day is not None:
            return {day: await roll_up_day(sessions, clock, day)}
        return await catch_up(sessions, clock, lookback_days=lookback_days)
    finally:
        await engine.dispose()
