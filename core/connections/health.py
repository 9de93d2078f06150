"""The last reachability probe of each broker connection, in Redis for a day.

Written by whoever calls the broker on a connection's behalf outside an order (status
checks, the trigger's pre-BUY probe); read by GET /broker/status and the readiness gate.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import msgspec
from redis.asyncio import Redis

from core import redis_keys

TTL_S: Final = 24 * 3600


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """One probe's result."""

    reachable: bool
    checked_at: float
    """Epoch seconds."""
    reason: str | None = None

    @property
    def checked(self) -> datetime:
        """When, as an aware datetime."""
        return datetime.fromtimestamp(self.checked_at, UTC)


_decoder = msgspec.json.Decoder(Health)


class HealthStore:
    """Reads and writes probe results."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def put(self, credential_id: str, health: Health) -> None:
        """Record a probe."""
        await self._redis.set(redis_keys.broker_health(credential_id),
                              msgspec.json.encode(health), ex=TTL_S)

    async def get_many(self, credential_ids: Iterable[str]) -> dict[str, Health]:
        """The recorded probes of these connections (absent ones left out)."""
        ids = list(dict.fromkeys(credential_ids))
        if not ids:
            return {}
        raws = await self._redis.mget([redis_keys.broker_health(i) for i in ids])
        return {i: _decoder.decode(raw) for i, raw in zip(ids, raws, strict=True) if raw}

    async def drop(self, credential_id: str) -> None:
        """Forget a connection's probe (it was disconnected)."""
        await self._redis.delete(redis_keys.broker_health(credential_id))
