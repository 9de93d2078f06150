"""The NSE trading calendar (DESIGN §8): exchange-calendars' XBOM plus admin overrides.

The library knows the years the exchange has published (it refuses later dates). A year
past that is never assumed holiday-free: it is covered only once an admin has imported
the exchange's holiday list for it, and until then every question about it raises
`CalendarNotCovered`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from core import error_codes
from core.clock import IST
from core.errors import AlgoError

REGULAR_OPEN: Final = time(9, 15)
REGULAR_CLOSE: Final = time(15, 30)
_MAX_SCAN_DAYS: Final = 30


class CalendarNotCovered(AlgoError):
    """The date lies in a year whose holiday list is not known yet."""

    default_code = error_codes.SYS_CALENDAR_NOT_COVERED


@dataclass(frozen=True, slots=True)
class Override:
    """An admin's correction of one day: a holiday, or a (special) session with its times."""

    day: date
    kind: str
    """`HOLIDAY` or `SPECIAL_SESSION`."""
    name: str
    open_time: time | None = None
    close_time: time | None = None


@functools.cache
def _library_sessions() -> tuple[dict[date, tuple[time, time]], date]:
    """XBOM sessions with their IST open/close, and the last day the library knows."""
    import exchange_calendars  # slow import (pandas): only when a calendar is first built

    with warnings.catch_warnings():
        # The library's own use of pandas raises deprecation warnings of pandas 4; ours
        # is only to read its tables once.
        warnings.simplefilter("ignore")
        cal = exchange_calendars.get_calendar("XBOM")
        sessions: dict[date, tuple[time, time]] = {}
        for day, opens, closes in zip(cal.sessions, cal.opens, cal.closes, strict=True):
            sessions[day.date()] = (opens.to_pydatetime().astimezone(IST).time(),
                                    closes.to_pydatetime().astimezone(IST).time())
        last = cal.last_session.date()
    return sessions, date(last.year, 12, 31)


class TradingCalendar:
    """Answers 'is this a trading day, and when is its session?' for NSE."""

    def __init__(self, sessions: dict[date, tuple[time, time]], library_until: date,
                 imported_years: Iterable[int] = (), overrides: Iterable[Override] = ()) -> None:
        self._sessions = sessions
        self._library_until = library_until
        self._imported_years = frozenset(imported_years)
        self._overrides = {o.day: o for o in overrides}

    @classmethod
    def load(cls, imported_years: Iterable[int] = (),
             overrides: Iterable[Override] = ()) -> TradingCalendar:
        """The XBOM calendar with the given imported years and overrides."""
        sessions, until = _library_sessions()
        return cls(sessions, until, imported_years, overrides)

    @property
    def covered_until(self) -> date:
        """The last day the calendar can answer for."""
        last = self._library_until
        while last.year + 1 in self._imported_years:
            last = date(last.year + 1, 12, 31)
        return last

    def covers(self, day: date) -> bool:
        """True if the holidays of `day`'s year are known."""
        return day <= self._library_until or day.year in self._imported_years

    def _require(self, day: date) -> None:
        if not self.covers(day):
            raise CalendarNotCovered(
                f"The NSE holiday list for {day.year} has not been imported yet",
                details={"date": day.isoformat(), "covered_until":
                         self.covered_until.isoformat()})

    def session_times(self, day: date) -> tuple[time, time] | None:
        """Open and close (IST wall time) of `day`'s session, None if it is not a trading day."""
        self._require(day)
        override = self._overrides.get(day)
        if override is not None:
            if override.kind == "HOLIDAY" or override.open_time is None \
                    or override.close_time is None:
                return None
            return override.open_time, override.close_time
        if day <= self._library_until:
            return self._sessions.get(day)
        # An imported year: weekdays are sessions unless the imported list says holiday.
        return (REGULAR_OPEN, REGULAR_CLOSE) if day.weekday() < 5 else None

    def is_trading_day(self, day: date) -> bool:
        """True if NSE trades on `day`."""
        return self.session_times(day) is not None

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None:
        """`day`'s session as aware datetimes (UTC), None if not a trading day."""
        times = self.session_times(day)
        if times is None:
            return None
        return (datetime.combine(day, times[0], IST).astimezone(UTC),
                datetime.combine(day, times[1], IST).astimezone(UTC))

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        candidate = day
        for _ in range(_MAX_SCAN_DAYS):
            candidate += timedelta(days=1)
            if self.is_trading_day(candidate):
                return candidate
        raise CalendarNotCovered(f"no trading day within {_MAX_SCAN_DAYS} days of {day}")
