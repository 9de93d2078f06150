"""The paper broker's tick stream: polls the last prices the feed keeps in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from brokers.paper.pricing import parse_paise
from core import redis_keys
from core.clock import Clock
from core.messages import Tick

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PaperTicker:
    """The Ticker protocol over Redis: MGET the subscribed `ltp:` keys every `interval_s`
    (on the clock) and yield a Tick whenever a price differs from the last one seen."""

    def __init__(self, redis: Redis, clock: Clock, *, interval_s: float = 0.2) -> None:
        self._redis = redis
        self._clock = clock
        self._interval_s = interval_s
        self._last: dict[tuple[str, str], int | None] = {}
        """Subscribed (exchange, symbol) → last price yielded (None: none yet)."""
        self._closed = asyncio.Event()

    async def subscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Start polling these (exchange, symbol) pairs; their current price comes first."""
        for pair in instruments:
            self._last.setdefault(pair, None)

    async def unsubscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Stop polling these pairs."""
        for pair in instruments:
            self._last.pop(pair, None)

    async def ticks(self) -> AsyncIterator[Tick]:
        """Ticks of changed prices, until `close()`."""
        while not self._closed.is_set():
            pairs = list(self._last)
            raws = await self._redis.mget([redis_keys.ltp(*p) for p in pairs]) if pairs else []
            now_ns = _epoch_ns(self._clock.now())
            for pair, raw in zip(pairs, raws, strict=True):
                price = parse_paise(raw)
                # An unsubscribe while a tick was being consumed drops the pair's later ticks.
                if price is None or pair not in self._last or self._last[pair] == price:
                    continue
                self._last[pair] = price
                yield Tick(exchange=pair[0], symbol=pair[1], ltp_paise=price,
                           exchange_ts=now_ns, received_ts=now_ns)
            await self._pause()

    async def close(self) -> None:
        """End `ticks()` at its next pause (at once if it is pausing)."""
        self._closed.set()

    async def _pause(self) -> None:
        """Wait one interval on the clock, or less if the ticker is closed meanwhile."""
        sleeper = asyncio.ensure_future(self._clock.sleep(self._interval_s))
        closer = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({sleeper, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            closer.cancel()
            # Let both finish; unlike awaiting them, this never swallows our own cancellation.
            await asyncio.wait({sleeper, closer})


def _epoch_ns(when: datetime) -> int:
    # Exact integer arithmetic: a float timestamp loses the last digits of nanoseconds.
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000
