"""The pipeline roles' heartbeats in Redis (written by pipeline/service.py), read back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from redis.asyncio import Redis

from core import redis_keys

PIPELINE_ROLES: Final = ("feed", "trigger", "slwatch", "executor", "notifier")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One live role instance as its last heartbeat described it."""

    role: str
    instance: str
    age_s: float
    """Seconds since the beat (the key expires after the heartbeat TTL)."""
    pid: int | None = None
    host: str | None = None
    started_at: float | None = None
    version: str | None = None
    counters: dict[str, Any] = field(default_factory=dict)


def parse(raw: str | bytes, now_ts: float) -> Heartbeat | None:
    """A heartbeat from its JSON, None when it is not one."""
    try:
        beat = json.loads(raw)
        role, instance, ts = str(beat["role"]), str(beat["instance"]), float(beat["ts"])
    except (ValueError, KeyError, TypeError):
        return None
    counters = beat.get("counters")
    return Heartbeat(role=role, instance=instance, age_s=round(max(0.0, now_ts - ts), 3),
                     pid=beat.get("pid"), host=beat.get("host"),
                     started_at=beat.get("started_at"), version=beat.get("version"),
                     counters=counters if isinstance(counters, dict) else {})


async def read_all(redis: Redis, now_ts: float) -> list[Heartbeat]:
    """Every live heartbeat, by role then instance."""
    keys = [k async for k in redis.scan_iter(match=redis_keys.HEARTBEAT_PATTERN, count=1000)]
    if not keys:
        return []
    beats = [parse(raw, now_ts) for raw in await redis.mget(keys) if raw is not None]
    return sorted((b for b in beats if b is not None), key=lambda b: (b.role, b.instance))


def by_role(beats: list[Heartbeat]) -> dict[str, list[Heartbeat]]:
    """The heartbeats grouped by role; every pipeline role is present, perhaps empty."""
    grouped: dict[str, list[Heartbeat]] = {role: [] for role in PIPELINE_ROLES}
    for beat in beats:
        grouped.setdefault(beat.role, []).append(beat)
    return grouped


def summed(beats: list[Heartbeat], name: str) -> int:
    """A numeric counter summed over instances."""
    return sum(int(v) for b in beats if isinstance(v := b.counters.get(name), int | float))
