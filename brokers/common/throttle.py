"""In-process request pacing per endpoint group, so an adapter stays inside a broker's
published rate limits instead of collecting 429s.

GCRA per group, like core/ratelimit.py but without Redis: each caller reserves the next
free slot synchronously (no await between reading and writing the state, so asyncio
callers cannot race) and then sleeps until its slot. The executor's per-account order
bucket in Redis is the cross-process limit; this one shapes one process's bursts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from core.ratelimit import Rate


class Throttle:
    """Waits as long as needed to keep each group within its rate."""

    def __init__(self, rates: Mapping[str, Rate], *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rates = dict(rates)
        self._monotonic = monotonic
        self._tat: dict[str, float] = {}
        """Theoretical arrival time of the next request, per group."""

    def reserve(self, group: str) -> float:
        """Take the next slot of `group`; returns how long to wait for it (0: now)."""
        rate = self._rates.get(group)
        if rate is None:
            return 0.0
        interval = rate.window_s / rate.limit
        now = self._monotonic()
        tat = max(self._tat.get(group, now), now)
        allow_at = tat - interval * (rate.limit - 1)
        self._tat[group] = tat + interval
        return max(0.0, allow_at - now)

    async def wait(self, group: str) -> None:
        """Wait for a slot of `group`."""
        delay = self.reserve(group)
        if delay > 0:
            await asyncio.sleep(delay)
