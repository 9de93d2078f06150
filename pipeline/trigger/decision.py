"""The one decision on an entry that is late or was held: fire it, or report it missed.

Replicas judge the same entry on their own clocks and readiness views, so one may decide to
fire a held BUY while another decides it is missed. Both write the day's decision hash with
HSETNX before acting (inside MULTI, so the answer says who won): the first decision stands,
and the loser neither publishes nor reports. An on-time fire does not wait for this (the hot
path stays free of I/O); it records `fire` along with its fired mark, after the ack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from redis.asyncio import Redis

from core import redis_keys
from pipeline.trigger.plan import member
from pipeline.trigger.schedule import Entry

FIRE: Final = "fire"
MISSED: Final = "missed"
TTL_S: Final = 3 * 24 * 3600


class Decision(NamedTuple):
    """An entry's decision, and whether this claim made it."""

    outcome: str
    ours: bool


async def claim(redis: Redis, entries: Sequence[Entry], outcome: str) -> list[Decision]:
    """Decide `outcome` for each entry unless it is decided already; returns each entry's
    standing decision."""
    if not entries:
        return []
    async with redis.pipeline(transaction=True) as pipe:
        for entry in entries:
            key = redis_keys.trigger_decided(entry.day.isoformat())
            pipe.hsetnx(key, member(entry), outcome)
            pipe.hget(key, member(entry))
            pipe.expire(key, TTL_S)
        replies = await pipe.execute()
    return [Decision(_text(replies[3 * i + 1]) or outcome, bool(replies[3 * i]))
            for i in range(len(entries))]


async def decided(redis: Redis, entry: Entry) -> str | None:
    """The entry's decision so far, if any."""
    value = await redis.hget(redis_keys.trigger_decided(entry.day.isoformat()), member(entry))
    return None if value is None else _text(value)


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
