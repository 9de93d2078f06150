"""Step 3 of the order path: `lock:order:{strategy_id}:{action}` in Redis, held as a lease.

The lock keeps two workers (a redelivery racing a slow first delivery, reconciliation
racing a consumer) off one intent at a time. It expires by itself, so a worker killed while
holding it delays the intent by at most the TTL, never blocks it. While a worker lives, a
background task renews it every third of the TTL; before every broker send the worker
checks that the lease is still its own with time to spare (`Lease.check`), so a worker that
stalled past its lease never sends after another has taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import redis_keys
from pipeline.executor.errors import Busy, LeaseLost

log = logging.getLogger("algo.pipeline.executor")

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_CHECK: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
return redis.call('PTTL', KEYS[1])
"""


class Lease:
    """A held order lock."""

    def __init__(self, locks: OrderLocks, key: str, token: str) -> None:
        self._locks = locks
        self.key = key
        self.token = token
        self.lost = False

    async def check(self) -> None:
        """Raise LeaseLost unless the lock is still ours for at least a third of its TTL."""
        if self.lost or not await self._locks.still_ours(self):
            self.lost = True
            raise LeaseLost(self.key)


class OrderLocks:
    """Acquire, renew and release order locks; only the holder's token can touch one."""

    def __init__(self, redis: Redis, ttl_s: float) -> None:
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)
        self._check = redis.register_script(_CHECK)

    @asynccontextmanager
    async def hold(self, strategy_id: str, action: str) -> AsyncIterator[Lease]:
        """Hold the lock for the block (renewed meanwhile), or raise Busy at once."""
        key = redis_keys.order_lock(strategy_id, action)
        token = secrets.token_hex(8)
        if not await self._redis.set(key, token, nx=True, px=self._ttl_ms):
            remaining_ms = await self._redis.pttl(key)
            raise Busy(key, max(0.2, remaining_ms / 1000))
        lease = Lease(self, key, token)
        done = asyncio.Event()
        renewer = asyncio.create_task(self._keep(lease, done))
        try:
            yield lease
        finally:
            # An event, not only cancel(): a cancellation swallowed inside a Redis call
            # would otherwise leave the renewer looping and this block waiting for ever.
            done.set()
            renewer.cancel()
            await asyncio.wait([renewer], timeout=1.0)
            await self._release(keys=[key], args=[token])

    async def still_ours(self, lease: Lease) -> bool:
        """True if the lock holds our token with at least a third of its TTL left."""
        remaining = int(await self._check(keys=[lease.key], args=[lease.token]))
        return remaining >= self._ttl_ms // 3

    async def _keep(self, lease: Lease, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self._ttl_ms / 3000)
            if done.is_set():
                return
            try:
                renewed = await self._renew(keys=[lease.key], args=[lease.token, self._ttl_ms])
            except RedisError as exc:
                log.warning("order lock renewal failed: %s", exc, extra={"lock": lease.key})
                continue  # the pre-send check decides; the lock may still be ours
            if not renewed:
                lease.lost = True
                log.error("order lock lost while held", extra={"lock": lease.key})
                return
