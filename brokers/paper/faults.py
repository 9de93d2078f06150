"""Fault switches of the paper broker: make the next order(s) fail the way a real broker can.

Stored in the Redis hash `PAPER_FAULTS` so a test, the CLI or another process can flip them:
field `mode` (every account) or `mode:{account}` → uses left (-1: until cleared), and for
`hang_after_accept` a field `hang_s:{field}` with the seconds to hang. `take()` consumes
one use atomically, so N concurrent orders consume a count of N exactly once each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from redis.asyncio import Redis

from core.redis_keys import PAPER_FAULTS


class FaultMode(StrEnum):
    """How the paper broker misbehaves (the same switches as the fake real-broker servers)."""

    REJECT = "reject"
    """The order is booked REJECTED and OrderRejected raised."""
    FAIL_BEFORE_SEND = "fail_before_send"
    """NotSent raised; nothing booked."""
    TIMEOUT_AFTER_ACCEPT = "timeout_after_accept"
    """The order is booked as normal, then Ambiguous raised (the response was lost)."""
    HANG_AFTER_ACCEPT = "hang_after_accept"
    """The order is booked, then the call hangs `hang_s` seconds before returning."""
    ERROR_5XX = "error_5xx"
    """Ambiguous raised; nothing booked (the broker failed before booking)."""
    RATE_LIMIT = "rate_limit"
    """RateLimited raised; nothing booked."""
    LOOKUP_FAIL = "lookup_fail"
    """The next read (get, orders, find_by_tag) raises BrokerUnavailable."""


ORDER_FAULTS: Final = (FaultMode.REJECT, FaultMode.FAIL_BEFORE_SEND,
                       FaultMode.TIMEOUT_AFTER_ACCEPT, FaultMode.HANG_AFTER_ACCEPT,
                       FaultMode.ERROR_5XX, FaultMode.RATE_LIMIT)
"""The switches `place` consumes, in priority order when several are set."""
READ_FAULTS: Final = (FaultMode.LOOKUP_FAIL,)
"""The switches a read consumes; kept apart so a read never eats an order's fault."""
DEFAULT_HANG_S: Final = 3600.0

# KEYS[1] the faults hash; KEYS[2], if given, a key to GET in the same round trip (the LTP).
# ARGV[1] the account, ARGV[2..] the modes to consider in priority order.
_TAKE: Final = """
local mode, hang, extra = false, false, false
if redis.call('EXISTS', KEYS[1]) == 1 then
  for _, suffix in ipairs({':' .. ARGV[1], ''}) do
    for i = 2, #ARGV do
      local field = ARGV[i] .. suffix
      local left = tonumber(redis.call('HGET', KEYS[1], field))
      if left then
        hang = redis.call('HGET', KEYS[1], 'hang_s:' .. field)
        if left > 1 then
          redis.call('HINCRBY', KEYS[1], field, -1)
        elseif left >= 0 then
          redis.call('HDEL', KEYS[1], field, 'hang_s:' .. field)
        end
        mode = ARGV[i]
        break
      end
    end
    if mode then break end
  end
end
if #KEYS > 1 then extra = redis.call('GET', KEYS[2]) end
return {mode, hang, extra}
"""


@dataclass(frozen=True, slots=True)
class Fault:
    """One consumed use of a switch."""

    mode: FaultMode
    hang_s: float = DEFAULT_HANG_S


class PaperFaults:
    """Set, clear and consume the paper broker's fault switches."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)

    async def set(self, mode: FaultMode | str, *, count: int = 1, account: str | None = None,
                  hang_s: float = DEFAULT_HANG_S) -> None:
        """Arm `mode` for the next `count` uses (-1: until cleared), for one account or all."""
        mode = FaultMode(mode)
        if count < 1 and count != -1:
            raise ValueError("count must be positive, or -1 for until cleared")
        field = _field(mode, account)
        items: list[str] = [field, str(count)]
        if mode is FaultMode.HANG_AFTER_ACCEPT:
            items += [f"hang_s:{field}", str(hang_s)]
        await self._redis.hset(PAPER_FAULTS, items=items)

    async def clear(self) -> None:
        """Disarm every switch."""
        await self._redis.delete(PAPER_FAULTS)

    async def take(self, account: str, *,
                   modes: Sequence[FaultMode] = ORDER_FAULTS) -> Fault | None:
        """Consume one use of a switch among `modes`: the account's own first, then a global one."""
        fault, _ = await self.take_and_get(account, None, modes=modes)
        return fault

    async def take_and_get(self, account: str, key: str | None, *,
                           modes: Sequence[FaultMode] = ORDER_FAULTS,
                           ) -> tuple[Fault | None, str | None]:
        """`take`, plus GET `key` in the same round trip (the exchange reads the LTP so)."""
        keys = [PAPER_FAULTS] if key is None else [PAPER_FAULTS, key]
        mode, hang, value = await self._take(keys=keys, args=[account, *modes])
        if mode is None:
            return None, value
        hang_s = DEFAULT_HANG_S if hang is None else float(hang)
        return Fault(FaultMode(mode), hang_s), value


def _field(mode: FaultMode, account: str | None) -> str:
    return mode.value if account is None else f"{mode.value}:{account}"
