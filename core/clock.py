"""Time as a collaborator: services take a `Clock` so tests can move time (DESIGN §8)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, date, datetime, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


class Clock(Protocol):
    """What every service needs to know about time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring intervals."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


def now_ist(clock: Clock) -> datetime:
    """The current instant in Asia/Kolkata."""
    return clock.now().astimezone(IST)


def trading_day(clock: Clock) -> date:
    """Today's date in IST, the day orders are keyed by."""
    return now_ist(clock).date()


async def sleep_until(clock: Clock, when: datetime) -> None:
    """Wait until the clock reaches `when` (aware datetime)."""
    if when.tzinfo is None:
        raise ValueError("sleep_until needs an aware datetime")
    delay = (when - clock.now()).total_seconds()
    if delay > 0:
        await clock.sleep(delay)


class RealClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current instant, UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """`asyncio.sleep`."""
        await asyncio.sleep(max(0.0, seconds))


_EPSILON_S: Final = 1e-6


class FakeClock:
    """A clock that moves only when told to; sleepers wake when time passes them."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        """The fake current instant."""
        return self._now

    def monotonic(self) -> float:
        """Seconds advanced since creation."""
        return self._mono

    async def sleep(self, seconds: float) -> None:
        """Wait until `advance()` has moved the clock past `seconds` from now."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in order and letting them run."""
        target = self._mono + seconds
        # A sleeper's delay comes from `now()` (whole microseconds) but is queued on the
        # float monotonic time: allow for the rounding, or a sleeper due exactly at the
        # target would be left asleep a hair past it.
        while self._sleepers and self._sleepers[0][0] <= target + _EPSILON_S:
            wake_at, _, future = heapq.heappop(self._sleepers)
            self._now += timedelta(seconds=wake_at - self._mono)
            self._mono = wake_at
            if not future.done():
                future.set_result(None)
            await asyncio.sleep(0)
        self._now += timedelta(seconds=target - self._mono)
        self._mono = target
        await asyncio.sleep(0)

    async def set(self, when: datetime) -> None:
        """Advance to an absolute instant (never backwards)."""
        delta = (when - self._now).total_seconds()
        if delta < 0:
            raise ValueError("FakeClock cannot go back in time")
        await self.advance(delta)
