"""Rate limits in Redis: GCRA, atomic in one Lua call, on Redis's own clock (ACC-7).

GCRA keeps one key per bucket (the theoretical arrival time), so a limit costs one
round trip and no sorted sets; `limit` requests may come in a burst, then one every
`window / limit` seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

from core import redis_keys

GCRA_FUNCTION: Final = """
local function gcra(key, interval, burst, record)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - interval * burst
  if now < allow_at then
    return {0, allow_at - now}
  end
  if record then
    redis.call('SET', key, new_tat, 'PX', math.max(1, math.ceil(new_tat - now)))
  end
  return {1, 0}
end
"""
"""`gcra(key, interval_ms, burst, record)` → {allowed 0/1, wait ms}: for scripts that
count a request along with other work in the same round trip (core/auth/view_cache.py)."""

_GCRA: Final = GCRA_FUNCTION + """
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1')
"""


@dataclass(frozen=True, slots=True)
class Rate:
    """`limit` requests per `window_s` seconds."""

    limit: int
    window_s: float

    @property
    def interval_ms(self) -> float:
        """The spacing GCRA enforces after the burst."""
        return self.window_s * 1000 / self.limit


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one hit."""

    allowed: bool
    retry_after_s: int
    retry_after_ms: int = 0
    """The exact wait, for callers that queue rather than refuse (the executor)."""


class RateLimiter:
    """Counts hits per (scope, key) against a Rate."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_GCRA)

    async def hit(self, scope: str, key: str, rate: Rate) -> Decision:
        """Record one request; raises redis errors to the caller, who decides open/closed."""
        return await self._run(scope, key, rate, record=True)

    async def peek(self, scope: str, key: str, rate: Rate) -> Decision:
        """Would one more request pass? Records nothing (for limits that count failures)."""
        return await self._run(scope, key, rate, record=False)

    async def _run(self, scope: str, key: str, rate: Rate, *, record: bool) -> Decision:
        allowed, wait_ms = await self._script(
            keys=[redis_keys.rate_limit(scope, key)],
            args=[rate.interval_ms, rate.limit, "1" if record else "0"])
        return decision(allowed, wait_ms)


def decision(allowed: object, wait_ms: object) -> Decision:
    """A Decision from what `gcra` returned."""
    if int(str(allowed)):
        return Decision(True, 0)
    wait = float(str(wait_ms))
    return Decision(False, max(1, math.ceil(wait / 1000)), max(1, math.ceil(wait)))
