"""End to end: the executor places an Angel One strategy's orders at the fake SmartAPI,
through the broker factory and the account's encrypted connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock
from core.crypto import SecretBox
from core.db.enums import BrokerType, OrderAction, OrderStatus, Position
from core.db.models import BrokerCredential
from core.embedded.stack import Endpoints
from core.repos import users
from tests.conftest import make_settings
from tests.fakes.angel import AngelFake, Fault, running_fake
from tests.fakes.angel.kit import AngelKit
from tests.order_kit import Kit, at


@pytest.fixture
async def fake() -> AsyncIterator[AngelFake]:
    """A running fake SmartAPI."""
    async with running_fake() as server:
        yield server


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext, fake: AngelFake) -> Kit:
    """The order kit on a fake clock at 09:30 IST, its settings pointing at the fake."""
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0, executor_max_deliver=4,
                             broker_read_timeout_s=0.5, **AngelKit(fake).settings())
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


async def connect_angel(kit: Kit, fake: AngelFake, email: str = "a@example.com") -> str:
    """A user with an Angel One connection logged in at the fake; the credential id."""
    box = SecretBox(kit.settings.encryption_key_map)
    async with kit.sessions() as session, session.begin():
        user = await users.create_user(session, email=email, password_hash="x")
        credential = AngelKit(fake).credential(box, user.id)
        session.add(credential)
    return credential.id


@asynccontextmanager
async def ticking(clock: FakeClock) -> AsyncIterator[None]:
    """Move the fake clock on in the background, so the executor's polls run."""
    async def tick() -> None:
        while True:
            await asyncio.sleep(0.02)
            await clock.advance(0.1)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def settled(kit: Kit, strategy_id: str, action: OrderAction) -> Any:
    """The order once final, with the fake clock moving."""
    assert isinstance(kit.clock, FakeClock)
    async with ticking(kit.clock):
        return await kit.settled(strategy_id, action)


async def test_an_angel_strategy_buys_and_sells_at_smartapi(kit: Kit, fake: AngelFake) -> None:
    credential_id = await connect_angel(kit, fake)
    strategy = await kit.running_strategy("a@example.com", broker=credential_id)
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
        assert buy.status == OrderStatus.FILLED, buy.status_reason
        assert (await kit.strategy(strategy.id)).position == Position.BOUGHT
        await kit.clock.set(at(15, 0))  # type: ignore[attr-defined]
        await kit.command(strategy, OrderAction.SELL)
        sell = await settled(kit, strategy.id, OrderAction.SELL)
        assert sell.status == OrderStatus.FILLED, sell.status_reason
    assert factory.built[0] == BrokerType.ANGEL_ONE
    book = list(fake.book.orders.values())
    assert [(o["orderid"], o["ordertag"], o["transactiontype"], o["status"])
            for o in book] == [
        (buy.broker_order_id, buy.client_tag, "BUY", "complete"),
        (sell.broker_order_id, sell.client_tag, "SELL", "complete")]
    assert buy.client_tag == buy.id[-15:]
    assert str(buy.average_price) == "2500.75"
    assert fake.book.logins == 0  # the stored session was used
    assert len(factory.calls) == 2


async def test_an_order_angel_took_but_never_answered_is_adopted_not_resent(
        kit: Kit, fake: AngelFake) -> None:
    credential_id = await connect_angel(kit, fake)
    strategy = await kit.running_strategy("a@example.com", broker=credential_id)
    fake.book.arm(Fault("accept_then_timeout", hang_s=5.0))
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
    assert buy.status == OrderStatus.FILLED, buy.status_reason
    assert len(fake.book.orders) == 1
    assert buy.broker_order_id == next(iter(fake.book.orders))
    assert len(factory.calls) == 1


async def test_an_expired_session_is_renewed_by_totp_and_stored(kit: Kit,
                                                                fake: AngelFake) -> None:
    credential_id = await connect_angel(kit, fake)
    async with kit.sessions() as session, session.begin():
        row = await session.get(BrokerCredential, credential_id)
        assert row is not None
        row.token_expires_at = at(6, 0)  # died this morning
        old_token = row.encrypted_access_token
    strategy = await kit.running_strategy("a@example.com", broker=credential_id)
    async with kit.executor():
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
    assert buy.status == OrderStatus.FILLED, buy.status_reason
    assert fake.book.logins == 1
    async with kit.sessions() as session:
        row = await session.get(BrokerCredential, credential_id)
        assert row is not None
        assert row.encrypted_access_token != old_token
        assert row.token_expires_at is not None and row.token_expires_at > at(9, 30)
        box = SecretBox(kit.settings.encryption_key_map)
        assert box.open(row.encrypted_access_token or b"", owner=row.user_id) in \
            fake.book.jwts
