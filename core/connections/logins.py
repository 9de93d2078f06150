"""Pending browser logins: the OAuth `state` we hand the broker, single use, short-lived.

The redirect comes from the user's browser without our bearer token, so the state is what
authenticates it: 32 random bytes, stored in Redis with the user and connection it was
issued for, consumed with GETDEL (a replayed redirect finds nothing).
"""

from __future__ import annotations

import secrets

import msgspec
from redis.asyncio import Redis

from core import redis_keys
from core.connections.errors import LoginLinkInvalid


class PendingLogin(msgspec.Struct, frozen=True, kw_only=True):
    """Who started a browser login, for which connection."""

    user_id: str
    credential_id: str
    broker_type: str


_decoder = msgspec.json.Decoder(PendingLogin)


class PendingLogins:
    """Issues and consumes login states."""

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    async def issue(self, pending: PendingLogin) -> str:
        """A new state for `pending`, valid for the TTL."""
        state = secrets.token_urlsafe(32)
        await self._redis.set(redis_keys.broker_login_state(state),
                              msgspec.json.encode(pending), ex=self._ttl_s)
        return state

    async def consume(self, state: str, broker_type: str) -> PendingLogin:
        """The login `state` was issued for; LoginLinkInvalid if unknown, used or expired."""
        raw = await self._redis.getdel(redis_keys.broker_login_state(state)) if state else None
        if raw is None:
            raise LoginLinkInvalid()
        pending = _decoder.decode(raw)
        if pending.broker_type != broker_type:
            raise LoginLinkInvalid()
        return pending
