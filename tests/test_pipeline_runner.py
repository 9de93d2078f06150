"""Pipeline roles start together, beat, answer `$SRV.PING`, and stop cleanly."""

from __future__ import annotations

import asyncio
import json

import pytest
from nats.aio.client import Client as NatsClient
from redis.asyncio import Redis

from core.settings import Settings
from pipeline.roles import ROLES
from pipeline.runner import UnknownRole, resolve_roles, run_roles
from tests.stubs import eventually


def test_resolve_roles() -> None:
    assert [c.role for c in resolve_roles(["all"])] == list(ROLES)
    assert [c.role for c in resolve_roles(["executor", "feed", "executor"])] == ["executor",
                                                                                 "feed"]
    with pytest.raises(UnknownRole, match="nope"):
        resolve_roles(["feed", "nope"])
    with pytest.raises(UnknownRole):
        resolve_roles([])


async def _srv_ping(nc: NatsClient, wait_s: float = 0.5) -> list[dict[str, object]]:
    replies: list[dict[str, object]] = []
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish("$SRV.PING", b"", reply=inbox)
    try:
        while True:
            msg = await sub.next_msg(timeout=wait_s)
            if msg.data:  # an empty body is the server's "no responders" status
                replies.append(json.loads(msg.data))
    except TimeoutError:
        pass
    finally:
        await sub.unsubscribe()
    return replies


async def test_every_role_beats_registers_and_stops(settings: Settings, redis: Redis,
                                                   nc: NatsClient) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_roles(["all"], settings, stop=stop))

    async def all_beating() -> bool:
        keys = [k async for k in redis.scan_iter(match="heartbeat:*")]
        return {k.split(":")[1] for k in keys} == set(ROLES)

    await eventually(all_beating, timeout=10, message="a heartbeat from every role")
    key = next(iter([k async for k in redis.scan_iter(match="heartbeat:executor:*")]))
    beat = json.loads(await redis.get(key) or "{}")
    assert beat["role"] == "executor" and beat["pid"] > 0
    assert 0 < await redis.pttl(key) <= settings.heartbeat_ttl_s * 1000

    first_ts = beat["ts"]

    async def beat_again() -> bool:
        raw = await redis.get(key)
        return raw is not None and json.loads(raw)["ts"] > first_ts

    await eventually(beat_again, timeout=5, message="a fresh heartbeat")

    names = {str(reply["name"]) for reply in await _srv_ping(nc)}
    assert names == {f"algo-{role}" for role in ROLES}

    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert [k async for k in redis.scan_iter(match="heartbeat:*")] == []
    assert await _srv_ping(nc, wait_s=0.2) == []
