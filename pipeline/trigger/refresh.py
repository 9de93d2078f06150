"""The readiness gate's refresh loop (readiness.py): which connections, when, how long.

Each pass covers only the connections with an owed BUY within the watch window (the probe
lead, at least a minute), a held BUY, or a BUY armed since the last pass (read once, so
the view knows every connection of the day), from the Book's incremental index, never
the whole schedule. `wanted` is cleared *before* a pass, so a request made during one brings
another at once. A pass never starts within `QUIET_S` of the scheduler's next fire, so
its synchronous parts never delay one, and it is cut off after `deadline_s` (the probes
still in flight go on, and are applied when they end).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from core.clock import Clock, sleep_until
from pipeline.trigger.book import Book
from pipeline.trigger.readiness import Readiness
from pipeline.trigger.wakeup import wait_until

QUIET_S: Final = 0.1
"""No refresh work starts this close to the next fire."""
MIN_WINDOW_S: Final = 60.0
"""Connections are read at least this long before a BUY on them, probing or not."""


class RefreshLoop:
    """Refreshes the readiness view every interval, or at once when asked."""

    def __init__(self, book: Book, readiness: Readiness, clock: Clock, log: logging.Logger, *,
                 interval_s: float, lead_s: float, deadline_s: float,
                 on_held: Callable[[], None]) -> None:
        self._book = book
        self._readiness = readiness
        self._clock = clock
        self._log = log
        self._interval = timedelta(seconds=interval_s)
        self._lead = timedelta(seconds=lead_s)
        self._window = timedelta(seconds=max(lead_s, MIN_WINDOW_S, 2 * interval_s))
        self._deadline_s = deadline_s
        self._on_held = on_held
        self.passes = 0
        """Passes started."""

    async def run(self) -> None:
        """Refresh forever."""
        while True:
            self._readiness.wanted.clear()  # a request from here on brings another pass
            await self._quiet()
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 — logged; the next pass retries
                self._log.exception("readiness refresh failed; retrying")
            await wait_until(self._clock, self._clock.now() + self._interval,
                             self._readiness.wanted)

    async def refresh(self) -> None:
        """One pass, cut off at the deadline; wakes the scheduler if a BUY is held."""
        self.passes += 1
        held = self._book.held_brokers()
        now = self._clock.now()
        near = self._book.brokers_near(now + self._window)
        soon = {broker for broker, at in near.items() if at <= now + self._lead}
        work: Awaitable[None] = self._readiness.refresh(
            near.keys() | self._book.take_armed(), due_soon=soon, held=held,
            recheck_s=self._interval.total_seconds())
        if not await within(self._clock, self._deadline_s, work):
            self._log.warning("readiness refresh cut off at its deadline",
                              extra={"deadline_s": self._deadline_s,
                                     "connections": len(near) + len(held)})
        if held:
            self._on_held()  # a held BUY may be ready now

    async def _quiet(self) -> None:
        """Wait out a fire due within QUIET_S (a few times at most: they may follow on)."""
        for _ in range(3):
            next_at = self._book.schedule.next_at()
            if next_at is None or next_at - self._clock.now() > timedelta(seconds=QUIET_S):
                return
            await sleep_until(self._clock, next_at)
            await asyncio.sleep(0)  # the scheduler's turn first


async def within(clock: Clock, seconds: float, work: Awaitable[None]) -> bool:
    """Run `work` for at most `seconds` on `clock`; False if it was cut off (cancelled)."""
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, timer, return_exceptions=True)
    if task.cancelled():
        return False
    task.result()  # its own exception, if any
    return True


