"""Pending browser logins: the OAuth `state` we hand the broker, single use, short-lived.

The state names the login: 32 random bytes, stored in Redis with the user and connection it
was issued for, consumed with GETDEL (a replayed redirect finds nothing). It does not
authenticate the redirect on its own: whoever holds the login link can log in on the
broker's genuine page, so the callback also needs the user's own authentication and the
state is consumed only by the user it was issued to (a foreign caller leaves it in place).
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

    async def consume(self, state: str, broker_type: str, *, user_id: str) -> PendingLogin:
        """The login `state` was issued for, if `user_id` started it; LoginLinkInvalid if
        unknown, used, expired, of another broker or started by another user."""
        key = redis_keys.broker_login_state(state)
        raw = await self._redis.get(key) if state else None
        if raw is None:
            raise LoginLinkInvalid()
        pending = _decoder.decode(raw)
        if pending.broker_type != broker_type:
            raise LoginLinkInvalid()
        if pending.user_id != user_id:
            raise LoginLinkInvalid("This login was started by another user: log in through "
                                   "a link you asked for yourself")
        if await self._redis.getdel(key) is None:  # used meanwhile
            raise LoginLinkInvalid()
        return pending
