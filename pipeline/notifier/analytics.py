"""Analytics upkeep in the notifier role (ANA-3): the nightly rollup, and dropping a user's
cached analytics when a fill (or a rejection) of theirs arrives.

The notifier already follows the order events and is the least latency-bound role, so the
rollup's SQL never competes with the trigger or the executor. Cache invalidation follows
ORDER_EXECUTED / ORDER_REJECTED with an ordered consumer from "now": each replica drops the
caches (harmless twice); an event missed while no notifier ran leaves an answer at most the
cache TTL old. A fill for a day already rolled up rolls that day up again first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.aio import cancel_and_wait
from core.analytics.cache import AnalyticsCache
from core.analytics.rollup import catch_up, reroll_if_rolled
from core.clock import IST, Clock, now_ist, sleep_until
from core.events import SYSTEM_USER, EventType
from core.messages import Event
from pipeline.follower import EventFollower
from pipeline.retry import retry_forever

FILLS = (EventType.ORDER_EXECUTED, EventType.ORDER_REJECTED)


class AnalyticsUpkeep:
    """The nightly rollup task and the cache-invalidating follower."""

    def __init__(self, follower: EventFollower, sessions: async_sessionmaker[AsyncSession],
                 cache: AnalyticsCache, clock: Clock, log: logging.Logger, *,
                 rollup_at: time, lookback_days: int) -> None:
        self._follower = follower
        self._sessions = sessions
        self._cache = cache
        self._clock = clock
        self._log = log
        self._at = rollup_at
        self._lookback = lookback_days
        self._tasks: list[asyncio.Task[None]] = []
        self.invalidated = 0
        self.rolled_days = 0

    async def start(self) -> None:
        """Follow the order events, then start both tasks."""
        await self._follower.subscribe()
        self._tasks = [asyncio.create_task(self._follower.run(self.on_events),
                                           name="analytics-invalidate"),
                       asyncio.create_task(self._nightly(), name="analytics-rollup")]

    async def stop(self) -> None:
        """Stop following and rolling up (a rollup cut short rolls back: it is re-run)."""
        with contextlib.suppress(Exception):
            await self._follower.close()
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def on_events(self, events: list[Event]) -> None:
        """Roll up again the rolled-up days these fills belong to, then drop the caches."""
        users = {e.user_id for e in events if e.user_id != SYSTEM_USER}
        days: set[date] = set()
        for e in events:
            if e.type == EventType.ORDER_EXECUTED.value:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    days.add(date.fromisoformat(e.data["trading_day"]))
        try:
            if days:
                again = await retry_forever(
                    lambda: reroll_if_rolled(self._sessions, self._clock, days),
                    clock=self._clock, log=self._log, what="rolling up a late day again")
                self.rolled_days += len(again)
            await retry_forever(lambda: self._cache.invalidate(users), clock=self._clock,
                                log=self._log, what="dropping cached analytics")
            self.invalidated += len(users)
        except Exception:  # noqa: BLE001 — logged; the next batch goes on
            # Only a bug gets here (outages are retried); the TTL bounds what stays stale.
            self._log.exception("analytics upkeep failed for a batch of order events")

    async def run_rollup(self) -> dict[date, int]:
        """Catch up (and re-roll the lookback days) now."""
        written = await retry_forever(
            lambda: catch_up(self._sessions, self._clock, lookback_days=self._lookback),
            clock=self._clock, log=self._log, what="rolling up analytics")
        self.rolled_days += len(written)
        if written:
            self._log.info("analytics rolled up", extra={
                "days": [d.isoformat() for d in written], "rows": sum(written.values())})
        return written

    async def _nightly(self) -> None:
        """Catch up at start (a missed night), then every day at the rollup time."""
        while True:
            try:
                await self.run_rollup()
            except Exception:  # noqa: BLE001 — logged; retried at the next run
                self._log.exception("analytics rollup failed; retrying at the next run")
            now = now_ist(self._clock)
            at = datetime.combine(now.date(), self._at, IST)
            if at <= now:
                at += timedelta(days=1)
            await sleep_until(self._clock, at)
