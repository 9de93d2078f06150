"""Running one source: start, subscribe, consume; on a failure or an end, restart it.

The restart closes the source, waits a backoff (0.5 s doubling to 30 s, full jitter, on the
clock), starts it again and resubscribes everything wanted then. The backoff resets once
the source delivers a tick again. Subscription changes and restarts take one lock, so a
restart never resubscribes a set that a concurrent change has already altered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Set
from typing import Final

from core.aio import check_cancelled
from core.clock import Clock
from pipeline.feed.pipe import SourceStats, TickPipe
from pipeline.feed.sources import Instrument, TickSource

FIRST_DELAY_S: Final = 0.5
MAX_DELAY_S: Final = 30.0


class Backoff:
    """Exponential backoff with full jitter: the n-th delay is uniform in
    [0, min(cap, first * 2**n))."""

    def __init__(self, first_s: float = FIRST_DELAY_S, cap_s: float = MAX_DELAY_S,
                 jitter: Callable[[], float] | None = None) -> None:
        self._first_s = first_s
        self._cap_s = cap_s
        # Not for security: spreading reconnects of many processes apart.
        self._jitter = jitter or random.random
        self.attempt = 0

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return min(self._cap_s, self._first_s * float(2 ** min(self.attempt, 32)))

    def next_delay(self) -> float:
        """The next delay, in seconds."""
        delay = self._jitter() * self.ceiling()
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from the first delay."""
        self.attempt = 0


class SourceRunner:
    """Keeps one source running and feeding the pipe."""

    def __init__(self, source: TickSource, pipe: TickPipe, clock: Clock,
                 log: logging.Logger, wanted: Callable[[], Set[Instrument]], *,
                 backoff: Backoff | None = None) -> None:
        self.source = source
        self.stats = SourceStats()
        self.backoff = backoff or Backoff()
        self._pipe = pipe
        self._clock = clock
        self._log = log
        self._wanted = wanted
        self._lock = asyncio.Lock()
        self._up = False

    async def run(self) -> None:
        """Start the source and keep it running until cancelled (a task)."""
        name = self.source.name
        while True:
            try:
                await self._start()
                await self._consume()
                self._log.warning("tick source ended; restarting", extra={"source": name})
            except Exception as exc:  # noqa: BLE001 — any failure of a source means restart
                self._log.warning("tick source failed; restarting: %s", exc,
                                  extra={"source": name})
            async with self._lock:
                self._up = self.stats.up = False
                with contextlib.suppress(Exception):
                    await self.source.close()
            self.stats.restarts += 1
            check_cancelled()
            await self._clock.sleep(self.backoff.next_delay())

    async def stop(self) -> None:
        """Close the source (after the task running `run` was cancelled)."""
        self._up = self.stats.up = False
        with contextlib.suppress(Exception):
            await self.source.close()

    async def subscribe(self, instruments: set[Instrument]) -> None:
        """Add instruments to a running source (a restart subscribes all wanted anyway)."""
        async with self._lock:
            if self._up and instruments:
                await self._change(self.source.subscribe, instruments)

    async def unsubscribe(self, instruments: set[Instrument]) -> None:
        """Remove instruments from a running source."""
        async with self._lock:
            if self._up and instruments:
                await self._change(self.source.unsubscribe, instruments)

    async def _change(self, change: Callable[[set[Instrument]], Awaitable[None]],
                      instruments: set[Instrument]) -> None:
        try:
            await change(instruments)
        except Exception as exc:  # noqa: BLE001 — a source that cannot change is restarted
            self._log.warning("tick source could not change its subscriptions; "
                              "restarting it: %s", exc, extra={"source": self.source.name})
            self._up = self.stats.up = False
            with contextlib.suppress(Exception):
                await self.source.close()  # ends its ticks(): the runner restarts it

    async def _start(self) -> None:
        async with self._lock:
            await self.source.start()
            wanted = set(self._wanted())
            if wanted:
                await self.source.subscribe(wanted)
            self._up = self.stats.up = True

    async def _consume(self) -> None:
        offer = self._pipe.offer
        flush = self._pipe.flush
        stats = self.stats
        backoff = self.backoff
        delivered = False
        ticks = self.source.ticks()
        try:
            async for tick in ticks:
                if not delivered:
                    delivered = True
                    backoff.reset()
                if offer(tick, stats):
                    await flush()
        finally:
            aclose = getattr(ticks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
