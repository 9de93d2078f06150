"""The pre-market readiness gate (BRK-10) in the trigger, against real NATS, Redis and
PostgreSQL on a fake clock: a BUY whose broker is not ready is held (no command, one ERROR
event), fires once the broker is ready within the grace period, and is reported missed with
its reason when it never is. SELLs are never held. The trigger's probe of the broker runs
against the fake Kite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys, subjects
from core.clock import FakeClock
from core.connections import vault
from core.connections.health import Health, HealthStore
from core.crypto import SecretBox
from core.db.models import BrokerCredential, Notification
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.messages import Event
from core.settings import Settings
from tests.conftest import make_settings
from tests.fakes.kite import Fault, KiteFake, running_fake
from tests.stubs import eventually
from tests.test_trigger import World, ist
from tests.test_trigger import world_factory as world_factory  # the fixture

FAR = ist(6, 0, day=date(2027, 1, 1))


async def connection(world: World, *, expires_at: datetime = FAR, valid: bool = True,
                     api_key: str = "k", token: str = "t") -> str:  # noqa: S107
    """A Zerodha connection of the world's user."""
    box = SecretBox(world.settings.encryption_key_map)
    async with world.sessions() as session, session.begin():
        row = BrokerCredential(id=new_id("brk"), user_id=world.user_id, broker_type="zerodha",
                               is_valid=valid, token_expires_at=expires_at)
        vault.seal(box, row, {"api_key": api_key, "api_secret": "s"}, token)
        session.add(row)
    return row.id


async def relogin(world: World, credential_id: str) -> None:
    """What a successful POST /broker/connect does to the row."""
    async with world.sessions() as session, session.begin():
        await session.execute(update(BrokerCredential).where(BrokerCredential.id == credential_id)
                              .values(is_valid=True, token_expires_at=FAR, status_reason=None))


async def held_events(world: World) -> list[Event]:
    return [e for e in await world.errors() if e.data.get("kind") == "buy_held"]


async def step_until(world: World, condition: Any, *, until: datetime, step_s: float = 1.0,
                     ) -> None:
    """Move the fake clock on in steps until `condition()` holds (or `until` passes)."""
    while not await condition():
        assert world.clock.now() < until, "condition not met in time"
        await world.clock.advance(step_s)
        for _ in range(20):  # let the scheduler and the readiness loop run
            if await condition():
                return
            await _yield()


async def _yield() -> None:
    import asyncio
    await asyncio.sleep(0.01)


async def test_an_expired_token_holds_the_buy_until_the_user_logs_in(
        world_factory: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
    world: World = await world_factory(ist(9, 29))
    credential = await connection(world, expires_at=ist(6, 0))  # died this morning
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45), broker=credential)
    trigger = await world.trigger()

    await world.clock.set(ist(9, 30))
    [held] = await eventually(lambda: held_events(world), message="the held event")
    assert (held.strategy_id, held.data["action"], held.data["broker_credential_id"]) == (
        strategy.id, "BUY", credential)
    assert "access token expired" in held.data["reason"]
    assert "No order has been sent" in held.data["message"]
    assert await world.command_count() == 0
    async with sessions() as session:
        types = [n.type for n in (await session.execute(select(Notification))).scalars()]
    # The start-up token check (past 08:30) told the user about the token, too.
    assert sorted(types) == ["buy_held", "token_expiry"]

    await world.clock.advance(5)  # re-checked: still expired, not announced again
    await eventually(lambda: trigger.held >= 2)
    await relogin(world, credential)
    await step_until(world, lambda: world.command_count(), until=ist(9, 30, 59))
    [(message, command)] = await world.wait_commands(1)
    assert (command.strategy_id, command.action) == (strategy.id, "BUY")
    assert message.headers[subjects.MSG_ID_HEADER] == f"{strategy.id}:2026-11-25:BUY"
    assert len(await held_events(world)) == 1
    assert trigger.missed == 0


async def test_a_broker_never_ready_is_missed_with_its_reason_and_sells_still_go(
        world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    credential = await connection(world, valid=False)  # refused by the broker
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45), broker=credential)
    replicas = [await world.trigger("t1"), await world.trigger("t2")]

    await world.clock.set(ist(9, 30))
    await eventually(lambda: held_events(world), message="the held event")
    await step_until(world, lambda: _missed(world), until=ist(9, 31, 30), step_s=5)
    [missed] = await _missed(world)
    assert missed.data["action"] == "BUY" and "not valid" in missed.data["held_because"]
    assert "still not ready" in missed.data["message"]
    assert await world.command_count() == 0
    assert len(await held_events(world)) == 1  # two replicas, one announcement

    await world.clock.set(ist(9, 45))  # the SELL is not gated
    [(_, sell)] = await world.wait_commands(1)
    assert (sell.strategy_id, sell.action) == (strategy.id, "SELL")
    assert len(await _missed(world)) == 1
    assert sum(t.missed for t in replicas) >= 1


async def _missed(world: World) -> list[Event]:
    return [e for e in await world.errors() if e.data.get("kind") == "trigger_missed"]


async def test_an_unreachable_broker_holds_the_buy(world_factory: Any, redis: Redis) -> None:
    world: World = await world_factory(ist(9, 29))
    credential = await connection(world)
    await HealthStore(redis).put(credential, Health(
        reachable=False, checked_at=ist(9, 29).timestamp(), reason="HTTP 503"))
    await world.running(buy=time(9, 30), sell=time(9, 45), broker=credential)
    paper = await world.running(buy=time(9, 30), sell=time(9, 45))  # paper is never held
    await world.trigger()

    await world.clock.set(ist(9, 30))
    [held] = await eventually(lambda: held_events(world), message="the held event")
    assert "did not answer" in held.data["reason"] and "HTTP 503" in held.data["reason"]
    [(_, buy)] = await world.wait_commands(1)
    assert buy.strategy_id == paper.id

    await HealthStore(redis).put(credential, Health(
        reachable=True, checked_at=ist(9, 30).timestamp()))
    await step_until(world, lambda: _count(world, 2), until=ist(9, 30, 59))
    assert len(await world.wait_commands(2)) == 2


async def _count(world: World, count: int) -> bool:
    return await world.command_count() >= count


@pytest.fixture
async def fake() -> AsyncIterator[KiteFake]:
    """A running fake Kite."""
    async with running_fake() as server:
        yield server


async def test_the_trigger_probes_the_broker_before_the_buy(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext, fake: KiteFake) -> None:
    settings: Settings = make_settings(endpoints, tmp_path, kite_api_url=fake.api_url,
                                       broker_read_timeout_s=0.5, trigger_probe_lead_s=60)
    world = World(settings, sessions, redis, nc, js, FakeClock(ist(9, 28)))
    await world.add_user()
    credential = await connection(world, api_key=fake.book.api_key,
                                  token=fake.book.issue_access_token())
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45), broker=credential)
    fake.book.arm(Fault(kind="error_5xx", group="read", count=1000, status=503))
    try:
        await world.trigger()
        await world.clock.set(ist(9, 29))  # the lead begins: the next refresh probes
        await step_until(world, lambda: _probed(redis, credential), until=ist(9, 29, 50))
        health = (await HealthStore(redis).get_many([credential]))[credential]
        assert health.reachable is False

        await world.clock.set(ist(9, 30))
        [held] = await eventually(lambda: held_events(world), message="the held event")
        assert "did not answer" in held.data["reason"]
        assert await world.command_count() == 0

        fake.book.faults.clear()  # Kite answers again: the held BUY's re-probe sees it
        await step_until(world, lambda: world.command_count(), until=ist(9, 30, 59))
        [(_, buy)] = await world.wait_commands(1)
        assert (buy.strategy_id, buy.action) == (strategy.id, "BUY")
        assert any(r.path == "/user/profile" for r in fake.book.requests)
    finally:
        for service in list(world.triggers):
            await world.stop(service)


async def _probed(redis: Redis, credential: str) -> bool:
    return bool(await redis.exists(redis_keys.broker_health(credential)))
