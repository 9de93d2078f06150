"""Step 3 of the order path: `lock:order:{strategy_id}:{action}` in Redis (SET NX PX).

The lock keeps two workers (a redelivery racing a slow first delivery, reconciliation
racing a consumer) off one intent at a time. It expires by itself, so a worker killed
while holding it delays the intent by at most the TTL, never blocks it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from redis.asyncio import Redis

from core import redis_keys
from pipeline.executor.errors import Busy

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class OrderLocks:
    """Acquire and release order locks; only the holder's token can release one."""

    def __init__(self, redis: Redis, ttl_s: float) -> None:
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)
        self._release = redis.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, strategy_id: str, action: str) -> AsyncIterator[None]:
        """Hold the lock for the block, or raise Busy at once."""
        key = redis_keys.order_lock(strategy_id, action)
        token = secrets.token_hex(8)
        if not await self._redis.set(key, token, nx=True, px=self._ttl_ms):
            remaining_ms = await self._redis.pttl(key)
            raise Busy(key, max(0.2, remaining_ms / 1000))
        try:
            yield
        finally:
            await self._release(keys=[key], args=[token])
