"""End to end: the executor places a Dhan strategy's orders at the fake Dhan, through the
broker factory and the account's encrypted credential."""

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
from core.ids import new_id
from core.repos import users
from tests.conftest import make_settings
from tests.fakes.dhan import DhanFake, Fault, running_fake
from tests.order_kit import Kit, at


@pytest.fixture
async def fake() -> AsyncIterator[DhanFake]:
    """A running fake Dhan."""
    async with running_fake() as server:
        yield server


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext, fake: DhanFake) -> Kit:
    """The order kit on a fake clock at 09:30 IST, its settings pointing at the fake."""
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0, executor_max_deliver=4,
                             dhan_api_url=fake.api_url, dhan_auth_url=fake.auth_url,
                             dhan_ws_url=fake.ws_url,
                             dhan_scrip_master_url=fake.scrip_master_url,
                             broker_read_timeout_s=0.5)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


async def connect_dhan(kit: Kit, fake: DhanFake, email: str = "d@example.com") -> str:
    """A user with a Dhan connection logged in at the fake; returns the credential id."""
    box = SecretBox(kit.settings.encryption_key_map)
    async with kit.sessions() as session, session.begin():
        user = await users.create_user(session, email=email, password_hash="x")
        credential = BrokerCredential(
            id=new_id("brk"), user_id=user.id, broker_type=BrokerType.DHAN.value,
            client_id=fake.book.client_id,
            encrypted_access_token=box.seal(fake.book.issue_access_token(), owner=user.id),
            key_id=box.current_key_id, token_expires_at=at(9, 0).replace(day=26),
            is_valid=True)
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


async def test_a_dhan_strategy_buys_and_sells_at_dhan(kit: Kit, fake: DhanFake) -> None:
    credential_id = await connect_dhan(kit, fake)
    strategy = await kit.running_strategy("d@example.com", broker=credential_id)
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
    assert factory.built[0] == BrokerType.DHAN
    book = list(fake.book.orders.values())
    assert [(o["orderId"], o["correlationId"], o["transactionType"], o["productType"],
             o["orderStatus"]) for o in book] == [
        (buy.broker_order_id, buy.client_tag, "BUY", "INTRADAY", "TRADED"),
        (sell.broker_order_id, sell.client_tag, "SELL", "INTRADAY", "TRADED")]
    assert buy.client_tag == buy.id  # the whole order id is the correlationId
    assert str(buy.average_price) == "2500.75"
    assert len(factory.calls) == 2


async def test_an_order_dhan_took_but_never_answered_is_adopted_not_resent(
        kit: Kit, fake: DhanFake) -> None:
    credential_id = await connect_dhan(kit, fake)
    strategy = await kit.running_strategy("d@example.com", broker=credential_id)
    fake.book.arm(Fault("accept_then_timeout", hang_s=5.0))
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
    assert buy.status == OrderStatus.FILLED, buy.status_reason
    assert len(fake.book.orders) == 1
    assert buy.broker_order_id == next(iter(fake.book.orders))
    assert len(factory.calls) == 1


async def test_a_rejection_at_dhan_is_final(kit: Kit, fake: DhanFake) -> None:
    credential_id = await connect_dhan(kit, fake)
    strategy = await kit.running_strategy("d@example.com", broker=credential_id)
    fake.book.arm(Fault("reject", code="DH-906", message="RMS: Margin Exceeds"))
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
    assert buy.status == OrderStatus.REJECTED
    assert "Margin Exceeds" in (buy.status_reason or "")
    assert fake.book.orders == {}
    assert len(factory.calls) == 1


async def test_an_invalidated_session_fails_the_order_as_log_in_again(
        kit: Kit, fake: DhanFake) -> None:
    credential_id = await connect_dhan(kit, fake)
    strategy = await kit.running_strategy("d@example.com", broker=credential_id)
    fake.book.arm(Fault("invalid_token"))
    async with kit.executor():
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
    assert buy.status == OrderStatus.FAILED
    assert "log in to the broker again" in (buy.status_reason or "")
    assert fake.book.orders == {}
