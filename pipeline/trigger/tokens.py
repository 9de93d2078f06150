"""The daily token check (BRK-9) runs inside the trigger role: the role that already keeps
the trading calendar and wakes on time, and the one whose BUYs a dead token would stop.

Each trading day at `ALGO_TOKEN_CHECK_TIME` IST (default 08:30, before the 09:15 open), and
once at start-up when the role starts later that day before the close, it runs
core.connections.expiry.check_tokens. The check is idempotent (notifications keyed by
connection and day), so replicas and restarts may all run it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.calendar import REGULAR_CLOSE
from core.clock import IST, Clock, now_ist, sleep_until
from core.connections.expiry import check_tokens
from core.connections.renewal import Renewer
from core.events import EventPublisher
from pipeline.retry import retry_forever


class TokenWatch:
    """Runs the token check once per trading day."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventPublisher,
                 clock: Clock, log: logging.Logger, at: time,
                 is_trading_day: Callable[[date], bool], *, renewer: Renewer | None = None,
                 feed_credential_id: str | None = None) -> None:
        self._sessions = sessions
        self._renewer = renewer
        self._feed_credential_id = feed_credential_id
        self._events = events
        self._clock = clock
        self._log = log
        self._at = at
        self._is_trading_day = is_trading_day
        self.last_day: date | None = None
        """The last day the check ran for."""

    async def run(self) -> None:
        """Check now if today's check time has passed (before the close), then daily."""
        while True:
            now = now_ist(self._clock)
            today = now.date()
            check_at = datetime.combine(today, self._at, IST)
            if check_at <= now < datetime.combine(today, REGULAR_CLOSE, IST) \
                    and self.last_day != today:
                await self.check(today)
                continue
            if now >= check_at:
                check_at = datetime.combine(today + timedelta(days=1), self._at, IST)
            await sleep_until(self._clock, check_at)

    async def check(self, day: date) -> None:
        """The check of `day` (nothing on a day without trading)."""
        self.last_day = day
        if not self._is_trading_day(day):
            return
        close_at = datetime.combine(day, REGULAR_CLOSE, IST)
        await retry_forever(
            lambda: check_tokens(self._sessions, self._events, self._clock, day,
                                 close_at=close_at, renewer=self._renewer,
                                 feed_credential_id=self._feed_credential_id),
            clock=self._clock, log=self._log, what="checking broker tokens")
