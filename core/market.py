"""Is the market in session? The exchange calendar, and the dev switch for paper trading."""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.calendar import CalendarNotCovered, TradingCalendar
from core.clock import Clock
from core.repos.calendar import load_calendar

log = logging.getLogger("algo.market")


class MarketHours:
    """Answers from a calendar loaded from PostgreSQL and refreshed every `refresh_s`, so
    an admin's override reaches running services without a restart."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, *,
                 paper_always_open: bool, refresh_s: float = 600.0) -> None:
        self._sessions = sessions
        self._clock = clock
        self._paper_always_open = paper_always_open
        self._refresh_s = refresh_s
        self._calendar: TradingCalendar | None = None
        self._loaded_at = float("-inf")

    async def refresh(self, *, force: bool = False) -> None:
        """Reload the calendar if it is older than `refresh_s` (or `force`)."""
        if not force and self._clock.monotonic() - self._loaded_at < self._refresh_s:
            return
        async with self._sessions() as session:
            self._calendar = await load_calendar(session)
        self._loaded_at = self._clock.monotonic()

    @property
    def calendar(self) -> TradingCalendar:
        """The loaded calendar (call `refresh()` first)."""
        if self._calendar is None:
            raise RuntimeError("MarketHours.refresh() has not run")
        return self._calendar

    def always_open(self, *, paper: bool) -> bool:
        """True when a paper strategy may trade at any time (dev only)."""
        return paper and self._paper_always_open

    def is_trading_day(self, day: date, *, paper: bool) -> bool:
        """True if orders may be placed on `day` (a year without a holiday list: never)."""
        if self.always_open(paper=paper):
            return True
        try:
            return self.calendar.is_trading_day(day)
        except CalendarNotCovered:
            log.error("trading calendar does not cover %s; import its holiday list", day)
            return False

    def is_open(self, day: date, now: datetime, *, paper: bool) -> bool:
        """True if `now` lies inside `day`'s session."""
        if self.always_open(paper=paper):
            return True
        try:
            bounds = self.calendar.session_bounds(day)
        except CalendarNotCovered:
            log.error("trading calendar does not cover %s; import its holiday list", day)
            return False
        return bounds is not None and bounds[0] <= now <= bounds[1]
