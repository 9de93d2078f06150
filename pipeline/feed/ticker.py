"""A broker's WebSocket ticker (brokers.base.Ticker) as a tick source.

A closed ticker is not reopened: every `start()` asks `connect` for a new one. The REST
fallback of the stale-feed watchdog is the broker's `get_ltp`, when one is given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from brokers.base import Ticker
from core.messages import Tick
from pipeline.feed.errors import SourceFailed
from pipeline.feed.sources import Instrument


class TickerSource:
    """Adapts a broker ticker to the TickSource protocol."""

    def __init__(self, name: str, connect: Callable[[], Awaitable[Ticker]], *,
                 get_ltp: Callable[[str, str], Awaitable[int]] | None = None) -> None:
        self._name = name
        self._connect = connect
        self._get_ltp = get_ltp
        self._ticker: Ticker | None = None
        self._wanted: set[Instrument] = set()

    @property
    def name(self) -> str:
        """The source's name (the broker's)."""
        return self._name

    async def start(self) -> None:
        """Open a new ticker and subscribe it to what was wanted before a restart."""
        self._ticker = await self._connect()
        if self._wanted:
            await self._ticker.subscribe(sorted(self._wanted))

    async def close(self) -> None:
        """Close the ticker; its `ticks()` ends."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            await ticker.close()

    async def subscribe(self, instruments: set[Instrument]) -> None:
        """Subscribe the ticker to the instruments it does not have yet."""
        new = instruments - self._wanted
        self._wanted |= new
        if new and self._ticker is not None:
            await self._ticker.subscribe(sorted(new))

    async def unsubscribe(self, instruments: set[Instrument]) -> None:
        """Unsubscribe the ticker from these instruments."""
        gone = instruments & self._wanted
        self._wanted -= gone
        if gone and self._ticker is not None:
            await self._ticker.unsubscribe(sorted(gone))

    def ticks(self) -> AsyncIterator[Tick]:
        """The ticker's ticks."""
        if self._ticker is None:
            raise SourceFailed(f"{self._name}: ticker not started")
        return self._ticker.ticks()

    async def last_price(self, exchange: str, symbol: str) -> int | None:
        """The broker's REST LTP, if the source has one."""
        if self._get_ltp is None:
            return None
        return await self._get_ltp(exchange, symbol)
