"""The synthetic source (the default of `algo up`): a seeded random walk per instrument.

Each instrument walks geometrically from its base price with its own generator, seeded by
(seed, exchange, symbol): its prices depend on nothing but the seed and how many ticks it
has had, so the same seed and the same calls give the same prices. The base price is the
last price in Redis when there is one (a restart continues where the market was), else one
drawn from the same generator in a realistic range. Ticks are paced on the clock at `rate`
per second in all, round-robin over the subscribed instruments; prices are rounded to the
exchange's 5-paise tick.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Final

from core.clock import Clock
from core.messages import Tick
from pipeline.feed.sources import Instrument, TimeBase, pause

TICK_PAISE: Final = 5
"""NSE's price step for equities: 0.05 rupee."""
LOW_PAISE: Final = 100_00
HIGH_PAISE: Final = 5_000_00
"""Drawn base prices lie between ₹100 and ₹5,000 (log-uniform)."""
STEP_SIGMA: Final = 0.0002
"""Standard deviation of one tick's log return (2 bps)."""
MAX_LAG_S: Final = 1.0
"""Behind schedule by more than this (a stall), the source skips the backlog."""
YIELD_EVERY: Final = 256
"""Ticks made back to back (catching up) before the loop is given a turn."""

PriceLookup = Callable[[list[Instrument]], Awaitable[list[int | None]]]
"""Current prices of instruments (the Redis LTP), None where there is none."""


def round_to_tick(paise: float) -> int:
    """The nearest multiple of the 5-paise tick, never below one tick."""
    return max(TICK_PAISE, int(paise / TICK_PAISE + 0.5) * TICK_PAISE)


class Walk:
    """One instrument's geometric random walk."""

    __slots__ = ("_gauss", "_price", "price")

    def __init__(self, seed: int, instrument: Instrument, base: int | None) -> None:
        # Not for security: a reproducible price path.
        rng = random.Random(f"{seed}:{instrument[0]}:{instrument[1]}")  # noqa: S311
        drawn = math.exp(rng.uniform(math.log(LOW_PAISE), math.log(HIGH_PAISE)))
        self._price = float(base) if base is not None and base > 0 else drawn
        self._gauss = rng.gauss
        self.price = round_to_tick(self._price)
        """The current price, in paise on the tick."""

    def step(self) -> int:
        """Move one tick; returns the new price in paise."""
        self._price *= math.exp(self._gauss(0.0, STEP_SIGMA))
        self.price = price = round_to_tick(self._price)
        return price


class SyntheticSource:
    """Seeded random-walk ticks for every subscribed instrument."""

    name = "synthetic"

    def __init__(self, clock: Clock, *, rate: float, seed: int,
                 prices: PriceLookup | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._clock = clock
        self._interval = 1.0 / rate
        self._seed = seed
        self._prices = prices
        self._walks: dict[Instrument, Walk] = {}
        self._order: list[Instrument] = []
        """Round-robin order: subscription order, each batch sorted (reproducible)."""
        self._closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._next_at: float | None = None

    async def start(self) -> None:
        """Nothing to connect to."""
        self._closed.clear()

    async def close(self) -> None:
        """End `ticks()` (at once if it is waiting)."""
        self._closed.set()

    async def subscribe(self, instruments: set[Instrument]) -> None:
        """Start walking these instruments, from their Redis price if they have one."""
        new = sorted(i for i in instruments if i not in self._walks)
        if not new:
            return
        bases: list[int | None] = [None] * len(new)
        if self._prices is not None:
            bases = await self._prices(new)
        for instrument, base in zip(new, bases, strict=True):
            if instrument not in self._walks:  # a concurrent subscribe got there first
                self._walks[instrument] = Walk(self._seed, instrument, base)
                self._order.append(instrument)
        self._changed.set()

    async def unsubscribe(self, instruments: set[Instrument]) -> None:
        """Stop walking these instruments (a later subscribe starts them afresh)."""
        for instrument in instruments:
            self._walks.pop(instrument, None)
        self._order = [i for i in self._order if i in self._walks]

    async def last_price(self, exchange: str, symbol: str) -> int | None:
        """The walk's current price (without moving it)."""
        walk = self._walks.get((exchange, symbol))
        return None if walk is None else walk.price

    async def ticks(self) -> AsyncGenerator[Tick, None]:
        """`rate` ticks a second in all, until `close()`."""
        clock = self._clock
        interval = self._interval
        base = TimeBase(clock)
        next_at = max(self._next_at or 0.0, clock.monotonic())
        turn = 0
        burst = 0
        while not self._closed.is_set():
            order = self._order
            if not order:
                self._changed.clear()
                await pause(clock, 3600.0, self._changed, self._closed)
                next_at = max(next_at, clock.monotonic())
                continue
            now = clock.monotonic()
            if next_at > now:
                burst = 0
                await pause(clock, next_at - now, self._closed)
                continue
            if now - next_at > MAX_LAG_S:
                next_at = now
            if burst >= YIELD_EVERY:
                burst = 0
                await asyncio.sleep(0)
                continue
            instrument = order[turn % len(order)]
            turn += 1
            walk = self._walks.get(instrument)
            if walk is None:  # unsubscribed while we were away
                continue
            burst += 1
            scheduled = base.at(next_at)
            next_at += interval
            self._next_at = next_at
            yield Tick(exchange=instrument[0], symbol=instrument[1], ltp_paise=walk.step(),
                       exchange_ts=scheduled, received_ts=base.at(clock.monotonic()))
