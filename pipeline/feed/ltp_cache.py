"""The last traded price of every quoted instrument in Redis (`ltp:{exchange}:{symbol}`).

Per tick only a dict assignment: the latest price of each instrument waits in `dirty`. The
writer task writes every dirty price in one MSET (one round trip) and then rests for the
interval, so each key is written at most once per interval and the latest price lands
within one interval (the paper broker fills at this price). After a quiet spell the first
price is written at once. If Redis fails, the prices stay dirty (newer ones win) and the
next round writes them.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.aio import check_cancelled
from core.clock import Clock


class LtpCache:
    """Coalesces LTP writes: at most one per key per `interval_s`, all in one round trip."""

    def __init__(self, redis: Redis, clock: Clock, interval_s: float,
                 log: logging.Logger) -> None:
        self._redis = redis
        self._clock = clock
        self._interval_s = interval_s
        self._log = log
        self._dirty: dict[str, int] = {}
        self._idle = True
        self._wake = asyncio.Event()
        self._failing = False
        self.writes = 0
        """Keys written."""
        self.flushes = 0
        """Round trips made."""

    def note(self, key: str, paise: int) -> None:
        """Remember the latest price of the instrument whose LTP key is `key`."""
        self._dirty[key] = paise
        if self._idle:
            self._idle = False
            self._wake.set()

    async def flush(self) -> None:
        """Write every dirty price now, in one round trip."""
        batch, self._dirty = self._dirty, {}
        if not batch:
            return
        try:
            await self._redis.mset(batch)
        except (RedisError, OSError) as exc:
            for key, paise in batch.items():  # a newer price noted meanwhile wins
                self._dirty.setdefault(key, paise)
            if not self._failing:
                self._failing = True
                self._log.warning("LTP writes failing, retrying: %s", exc)
            return
        if self._failing:
            self._failing = False
            self._log.info("LTP writes succeed again")
        self.writes += len(batch)
        self.flushes += 1

    async def run(self) -> None:
        """The writer task."""
        while True:
            if not self._dirty:
                self._idle = True
                self._wake.clear()
                await self._wake.wait()
            await self.flush()
            check_cancelled()
            await self._clock.sleep(self._interval_s)
