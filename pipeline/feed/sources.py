"""The tick source interface every source implements (synthetic, replay, broker tickers).

A source is started, told which instruments to quote, and iterated. Its `ticks()` may end
or raise; the runner (runner.py) then closes it, starts it again and resubscribes. A source
may quote instruments it was not asked for: the feed drops those ticks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, TypeAlias

from core.clock import Clock
from core.messages import Tick

Instrument: TypeAlias = tuple[str, str]
"""(exchange, symbol)."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class TickSource(Protocol):
    """A stream of last-traded-price ticks for the instruments it is subscribed to."""

    @property
    def name(self) -> str:
        """Short name, as `feed_sources` spells it (names the counters and log lines)."""
        ...

    async def start(self) -> None:
        """Connect (or open); called again after `close()` when the source is restarted."""
        ...

    async def close(self) -> None:
        """Disconnect; a running `ticks()` ends soon after."""
        ...

    async def subscribe(self, instruments: set[Instrument]) -> None:
        """Start quoting these instruments (already quoted ones are ignored)."""
        ...

    async def unsubscribe(self, instruments: set[Instrument]) -> None:
        """Stop quoting these instruments."""
        ...

    def ticks(self) -> AsyncIterator[Tick]:
        """Ticks as they arrive, until `close()` (or a failure, which it raises)."""
        ...

    async def last_price(self, exchange: str, symbol: str) -> int | None:
        """The current price in paise by a request of its own (the stale-feed fallback);
        None when the source cannot quote the instrument."""
        ...


def epoch_ns(when: datetime) -> int:
    """An aware instant as integer epoch nanoseconds (exact: no float on the way)."""
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000


class TimeBase:
    """Epoch nanoseconds of any monotonic instant of a clock, by one anchor: turning the
    clock's `now()` into nanoseconds costs a datetime subtraction, this a multiply-add."""

    __slots__ = ("_mono", "_ns")

    def __init__(self, clock: Clock) -> None:
        self._ns = epoch_ns(clock.now())
        self._mono = clock.monotonic()

    def at(self, monotonic: float) -> int:
        """Epoch nanoseconds of the instant the clock's `monotonic()` read `monotonic`."""
        return self._ns + int((monotonic - self._mono) * 1e9)


async def pause(clock: Clock, seconds: float, *events: asyncio.Event) -> None:
    """Wait `seconds` on the clock, or less if any of `events` is (or becomes) set."""
    if any(e.is_set() for e in events):
        return
    waits: list[asyncio.Future[object]] = [asyncio.ensure_future(clock.sleep(seconds))]
    waits += [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()
        # Let them finish; unlike awaiting them, this never swallows our own cancellation.
        await asyncio.wait(waits)
