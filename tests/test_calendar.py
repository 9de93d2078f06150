"""The NSE trading calendar: library sessions, holidays, weekends, overrides, coverage."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.calendar import CalendarNotCovered, Override, TradingCalendar
from core.repos import calendar as calendar_repo


def test_known_nse_holiday_and_weekend() -> None:
    cal = TradingCalendar.load()
    assert not cal.is_trading_day(date(2026, 11, 24))  # Guru Nanak Jayanti
    assert not cal.is_trading_day(date(2026, 11, 28))  # Saturday
    assert cal.is_trading_day(date(2026, 11, 25))
    assert cal.next_trading_day(date(2026, 11, 23)) == date(2026, 11, 25)
    assert cal.next_trading_day(date(2026, 11, 27)) == date(2026, 11, 30)


def test_session_bounds_are_0915_to_1530_ist() -> None:
    opens, closes = TradingCalendar.load().session_bounds(date(2026, 11, 25)) or (None, None)
    assert opens == datetime(2026, 11, 25, 3, 45, tzinfo=UTC)
    assert closes == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert TradingCalendar.load().session_bounds(date(2026, 11, 24)) is None


def test_a_year_without_a_published_list_is_refused() -> None:
    cal = TradingCalendar.load()
    assert cal.covered_until == date(2026, 12, 31)
    with pytest.raises(CalendarNotCovered, match="2027") as exc:
        cal.is_trading_day(date(2027, 1, 4))
    assert exc.value.code.code == "SYS_008"
    with pytest.raises(CalendarNotCovered):
        cal.next_trading_day(date(2026, 12, 31))


def test_overrides_add_holidays_and_special_sessions() -> None:
    cal = TradingCalendar.load(overrides=[
        Override(date(2026, 11, 25), "HOLIDAY", "Unscheduled closure"),
        Override(date(2026, 11, 8), "SPECIAL_SESSION", "Muhurat trading", time(18, 0),
                 time(19, 15)),
    ])
    assert not cal.is_trading_day(date(2026, 11, 25))
    assert cal.next_trading_day(date(2026, 11, 23)) == date(2026, 11, 26)
    assert cal.session_times(date(2026, 11, 8)) == (time(18, 0), time(19, 15))


def test_an_imported_year_is_covered_with_its_holidays() -> None:
    cal = TradingCalendar.load(imported_years=[2027], overrides=[
        Override(date(2027, 1, 26), "HOLIDAY", "Republic Day")])
    assert cal.covered_until == date(2027, 12, 31)
    assert not cal.is_trading_day(date(2027, 1, 26))
    assert cal.is_trading_day(date(2027, 1, 25))
    assert not cal.is_trading_day(date(2027, 1, 23))  # Saturday
    assert cal.session_times(date(2027, 1, 25)) == (time(9, 15), time(15, 30))


async def test_overrides_and_imports_round_trip_through_the_database(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await calendar_repo.import_year(
            session, 2027, [Override(date(2027, 1, 26), "HOLIDAY", "Republic Day"),
                            Override(date(2027, 3, 4), "HOLIDAY", "Holi")],
            source="NSE circular (test)")
        await calendar_repo.add_override(session, Override(
            date(2026, 11, 8), "SPECIAL_SESSION", "Muhurat trading", time(18, 0), time(19, 0)))
    async with sessions() as session:
        cal = await calendar_repo.load_calendar(session)
    assert cal.covers(date(2027, 6, 1))
    assert not cal.is_trading_day(date(2027, 3, 4))
    assert cal.is_trading_day(date(2026, 11, 8))
    async with sessions() as session, session.begin():
        with pytest.raises(ValueError, match="not a holiday of 2028"):
            await calendar_repo.import_year(session, 2028, [
                Override(date(2027, 5, 1), "HOLIDAY", "wrong year")], source="x")
