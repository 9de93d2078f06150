"""Reusing a user's account view between requests without going stale (ACC-4).

Authentication checks the account on every request: active, not deleted, its role, its
password change. Reading that row costs a PostgreSQL round trip per request, so a process
keeps the view it read, tagged with the user's *auth epoch*: a random value in Redis that
every change of those columns replaces, after its commit. A request reads the epoch in
the same round trip as the denylist (`AuthGate.check`), and reuses the view only while the
epoch is the one it was read under.

Why a change cannot be missed: a writer commits, then sets a new epoch. A reader that read
the old epoch either read the row before the commit (and the next request, seeing the new
epoch, reads it again) or after it (and has the new row already). A lost epoch (Redis
restarted, key evicted) is replaced by a new random one: no view survives it. Should the
writer's Redis call fail after its commit (it answers 503), the views it should have
invalidated live at most `VIEW_TTL_S` — and no request is authenticated while Redis cannot
answer the denylist anyway. The same bound holds if Redis comes back with an *older* epoch
(a crash that lost its last second of writes, a restore): views read under that epoch are
reused again for at most `VIEW_TTL_S`; restart the web processes after restoring Redis.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

from core import redis_keys
from core.ratelimit import GCRA_FUNCTION, Decision, Rate, decision
from core.repos.users import AuthView

USER_SCOPE: Final = "user"
"""The rate-limit scope of per-user buckets (web/ratelimit.py counts SSE tickets in it)."""

VIEW_TTL_S: Final = 30.0
"""The longest a view is reused, whatever the epoch says (the backstop above)."""
EPOCH_TTL_S: Final = 7 * 24 * 3600
"""An epoch key outlives any access token; a user gone a week just gets a new one."""
CAPACITY: Final = 50_000

# KEYS[1] the user's epoch, KEYS[2] the user's rate-limit bucket, KEYS[3] the client IP's
# bucket, KEYS[4..] the denylist keys of the token and its session. ARGV: a new epoch, its
# TTL, the user rate's interval (ms) and burst, the IP rate's ('' for none: not counted).
# Returns {how many denylist keys exist, the epoch (created if missing), allowed 0/1, wait
# ms, which limit refused ('ip' or 'user', '' if none)}. The IP is counted first, as it
# would be before authentication; a revoked token counts against the IP only.
_GATE: Final = GCRA_FUNCTION + """
local revoked = 0
for i = 4, #KEYS do
  revoked = revoked + redis.call('EXISTS', KEYS[i])
end
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch, 'EX', ARGV[2])
end
if ARGV[5] ~= '' then
  local by_ip = gcra(KEYS[3], tonumber(ARGV[5]), tonumber(ARGV[6]), true)
  if by_ip[1] == 0 then
    return {revoked, epoch, 0, by_ip[2], 'ip'}
  end
end
if revoked > 0 or ARGV[3] == '' then
  return {revoked, epoch, 1, 0, ''}
end
local by_user = gcra(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]), true)
if by_user[1] == 0 then
  return {revoked, epoch, 0, by_user[2], 'user'}
end
return {revoked, epoch, 1, 0, ''}
"""


@dataclass(frozen=True, slots=True)
class IpLimit:
    """A client IP's rate limit, counted in the gate's round trip instead of its own."""

    scope: str
    bucket: str
    rate: Rate


def new_epoch() -> str:
    """A fresh random epoch."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Passage:
    """What the gate found for one request."""

    revoked: bool
    epoch: str
    limit: Decision
    """The request counted against the client IP's and the user's rate limits (allowed if
    neither refused it)."""
    refused_by: str = ""
    """`ip` or `user` when `limit` refuses."""


class AuthGate:
    """The per-request Redis round trip of authentication: the denylist, the user's epoch
    and the user's rate limit (ACC-7) together."""

    def __init__(self, redis: Redis, user_rate: Rate | None = None) -> None:
        self._script = redis.register_script(_GATE)
        self._rate_args: list[float | str] = \
            [user_rate.interval_ms, user_rate.limit] if user_rate else ["", ""]

    async def check(self, user_id: str, denylist_keys: Sequence[str], *,
                    count: bool = True, ip: IpLimit | None = None) -> Passage:
        """Look up one request of `user_id` and count it against the user's limit (unless
        `count` is False: a stream re-checking itself is no new request) and against its
        client IP's, when the caller deferred that one to here; raises RedisError."""
        user_key = redis_keys.rate_limit(USER_SCOPE, user_id)
        ip_key = redis_keys.rate_limit(ip.scope, ip.bucket) if ip else user_key
        ip_args: list[float | str] = [ip.rate.interval_ms, ip.rate.limit] if ip else ["", ""]
        revoked, epoch, allowed, wait_ms, refused_by = await self._script(
            keys=[redis_keys.auth_epoch(user_id), user_key, ip_key, *denylist_keys],
            args=[new_epoch(), EPOCH_TTL_S, *(self._rate_args if count else ["", ""]),
                  *ip_args])
        return Passage(int(revoked) > 0, str(epoch), decision(allowed, wait_ms),
                       str(refused_by))


@dataclass(frozen=True, slots=True)
class _Entry:
    epoch: str
    view: AuthView
    until: float


class AuthViewCache:
    """This process's account views, each valid under the epoch it was read under."""

    def __init__(self, ttl_s: float = VIEW_TTL_S, capacity: int = CAPACITY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def get(self, user_id: str, epoch: str) -> AuthView | None:
        """The view read under `epoch`, if it is still that and not older than the TTL."""
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        if entry.epoch != epoch or entry.until <= self._clock():
            del self._entries[user_id]
            return None
        return entry.view

    def put(self, user_id: str, epoch: str, view: AuthView) -> None:
        """Keep a view read after the epoch was read."""
        if len(self._entries) >= self._capacity:
            self._entries.clear()
        self._entries[user_id] = _Entry(epoch, view, self._clock() + self._ttl_s)
