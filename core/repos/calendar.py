"""Data access for the calendar's admin data: overrides and imported years."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import Override, TradingCalendar
from core.db.models import TradingCalendarOverride, TradingCalendarYear


async def load_calendar(session: AsyncSession, exchange: str = "NSE") -> TradingCalendar:
    """The calendar with every override and imported year from the database."""
    overrides = (await session.execute(select(TradingCalendarOverride).where(
        TradingCalendarOverride.exchange == exchange))).scalars()
    years = (await session.execute(select(TradingCalendarYear.year).where(
        TradingCalendarYear.exchange == exchange))).scalars()
    return TradingCalendar.load(
        imported_years=list(years),
        overrides=[Override(o.day, o.kind, o.name, o.open_time, o.close_time)
                   for o in overrides])


async def add_override(session: AsyncSession, override: Override, *, exchange: str = "NSE",
                       created_by: str | None = None) -> None:
    """Add or replace the override of one day."""
    statement = insert(TradingCalendarOverride).values(
        exchange=exchange, day=override.day, kind=override.kind, name=override.name,
        open_time=override.open_time, close_time=override.close_time, created_by=created_by)
    await session.execute(statement.on_conflict_do_update(
        constraint="uq_trading_calendar_overrides_exchange_day",
        set_={"kind": statement.excluded.kind, "name": statement.excluded.name,
              "open_time": statement.excluded.open_time,
              "close_time": statement.excluded.close_time}))


async def import_year(session: AsyncSession, year: int, holidays: list[Override], *,
                      source: str, exchange: str = "NSE", imported_by: str | None = None) -> None:
    """Record the exchange's published holiday list of `year`; the year is then covered."""
    for holiday in holidays:
        if holiday.day.year != year or holiday.kind != "HOLIDAY":
            raise ValueError(f"{holiday.day} is not a holiday of {year}")
        await add_override(session, holiday, exchange=exchange, created_by=imported_by)
    statement = insert(TradingCalendarYear).values(
        exchange=exchange, year=year, holidays=len(holidays), source=source,
        imported_by=imported_by)
    await session.execute(statement.on_conflict_do_update(
        index_elements=[TradingCalendarYear.exchange, TradingCalendarYear.year],
        set_={"holidays": statement.excluded.holidays, "source": statement.excluded.source,
              "imported_by": statement.excluded.imported_by}))
