"""The 5-minute cache of analytics answers in Redis (ANA-3).

A user's answers live in one hash, each stamped with the user's generation and the time it
was computed. A new fill bumps the generation and drops the hash (`invalidate`); an answer
computed while a fill arrived carries the old generation, so storing it late cannot bring a
stale answer back. Platform-wide (admin) answers only expire.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import msgspec
from redis.asyncio import Redis

from core import redis_keys
from core.clock import Clock

T = TypeVar("T")

_encoder: Final = msgspec.json.Encoder(decimal_format="string")


class _Entry(msgspec.Struct, array_like=True):
    gen: int
    at: float
    value: msgspec.Raw


class AnalyticsCache:
    """Cached answers per user and platform-wide, for `ttl_s` seconds."""

    def __init__(self, redis: Redis, clock: Clock, ttl_s: float) -> None:
        self._redis = redis
        self._clock = clock
        self._ttl_s = ttl_s
        self.hits = 0
        self.misses = 0

    async def user(self, user_id: str, query: str, kind: type[T],
                   compute: Callable[[], Awaitable[T]]) -> T:
        """The cached answer to `query` for `user_id`, else `compute()`'s (then cached)."""
        key, gen_key = redis_keys.analytics_user(user_id), redis_keys.analytics_generation(user_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(key, query)
            pipe.get(gen_key)
            raw, gen_raw = await pipe.execute()
        gen = int(gen_raw or 0)
        if raw is not None:
            entry = msgspec.json.decode(raw, type=_Entry)
            if entry.gen == gen and self._fresh(entry.at):
                self.hits += 1
                return msgspec.json.decode(entry.value, type=kind)
        self.misses += 1
        value = await compute()
        entry = _Entry(gen=gen, at=self._clock.now().timestamp(),
                       value=msgspec.Raw(_encoder.encode(value)))
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, query, _encoder.encode(entry))
            pipe.expire(key, max(1, round(self._ttl_s)))
            await pipe.execute()
        return value

    async def admin(self, query: str, kind: type[T], compute: Callable[[], Awaitable[T]]) -> T:
        """The cached platform-wide answer to `query`, else `compute()`'s (then cached)."""
        key = redis_keys.analytics_admin(query)
        raw = await self._redis.get(key)
        if raw is not None:
            self.hits += 1
            return msgspec.json.decode(raw, type=kind)
        self.misses += 1
        value = await compute()
        await self._redis.set(key, _encoder.encode(value), px=max(1, int(self._ttl_s * 1000)))
        return value

    async def invalidate(self, user_ids: Any) -> None:
        """Forget the cached answers of these users (a fill arrived for them)."""
        ids = sorted(set(user_ids))
        if not ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in ids:
                pipe.incr(redis_keys.analytics_generation(user_id))
                pipe.delete(redis_keys.analytics_user(user_id))
            await pipe.execute()

    def _fresh(self, at: float) -> bool:
        return self._clock.now().timestamp() - at < self._ttl_s
