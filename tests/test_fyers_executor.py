"""End to end: the executor places a Fyers strategy's orders at the fake Fyers, through
the broker factory and the account's encrypted credential."""

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
from tests.fakes.fyers import Fault, FyersFake, running_fake
from tests.order_kit import Kit, at


@pytest.fixture
async def fake() -> AsyncIterator[FyersFake]:
    """A running fake Fyers."""
    async with running_fake() as server:
        yield server


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext, fake: FyersFake) -> Kit:
    """The order kit on a fake clock at 09:30 IST, its settings pointing at the fake."""
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0, executor_max_deliver=4,
                             fyers_api_url=fake.api_url, fyers_ws_url=fake.ws_url,
                             fyers_symbols_url=fake.symbols_url,
                             broker_read_timeout_s=0.5)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


async def connect_fyers(kit: Kit, fake: FyersFake, email: str = "f@example.com") -> str:
    """A user with a Fyers connection logged in at the fake; returns the credential id."""
    box = SecretBox(kit.settings.encryption_key_map)
    async with kit.sessions() as session, session.begin():
        user = await users.create_user(session, email=email, password_hash="x")
        credential = BrokerCredential(
            id=new_id("brk"), user_id=user.id, broker_type=BrokerType.FYERS.value,
            client_id=fake.book.fy_id,
            encrypted_api_key=box.seal(fake.book.app_id, owner=user.id),
            encrypted_access_token=box.seal(fake.book.issue_access_token(), owner=user.id),
            key_id=box.current_key_id, token_expires_at=at(6, 0).replace(day=26),
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


async def test_a_fyers_strategy_buys_and_sells_at_fyers(kit: Kit, fake: FyersFake) -> None:
    credential_id = await connect_fyers(kit, fake)
    strategy = await kit.running_strategy("f@example.com", broker=credential_id)
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
    assert factory.built[0] == BrokerType.FYERS
    book = fake.book.order_book()
    assert [(o["id"], o["orderTag"], o["side"], o["status"]) for o in book] == [
        (buy.broker_order_id, f"1:{buy.client_tag}", 1, 2),
        (sell.broker_order_id, f"1:{sell.client_tag}", -1, 2)]
    assert buy.client_tag == buy.id.replace("_", "")
    assert str(buy.average_price) == "2500.75"
    assert len(factory.calls) == 2


async def test_an_order_fyers_took_but_never_answered_is_adopted_not_resent(
        kit: Kit, fake: FyersFake) -> None:
    credential_id = await connect_fyers(kit, fake)
    strategy = await kit.running_strategy("f@example.com", broker=credential_id)
    fake.book.arm(Fault("accept_then_timeout", hang_s=5.0))
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
    assert buy.status == OrderStatus.FILLED, buy.status_reason
    assert len(fake.book.orders) == 1
    assert buy.broker_order_id == next(iter(fake.book.orders))
    assert len(factory.calls) == 1


async def test_a_rejection_at_fyers_is_final(kit: Kit, fake: FyersFake) -> None:
    credential_id = await connect_fyers(kit, fake)
    strategy = await kit.running_strategy("f@example.com", broker=credential_id)
    fake.book.arm(Fault("reject", code=-99, message="RMS:Margin Shortfall: Insufficient funds"))
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
    assert buy.status == OrderStatus.REJECTED
    assert "Insufficient funds" in (buy.status_reason or "")
    assert fake.book.orders == {}
    assert len(factory.calls) == 1


async def test_an_account_without_a_live_session_fails_without_calling_fyers(
        kit: Kit, fake: FyersFake) -> None:
    credential_id = await connect_fyers(kit, fake)
    async with kit.sessions() as session, session.begin():
        row = await session.get(BrokerCredential, credential_id)
        assert row is not None
        row.encrypted_access_token = None  # the user logged out of Fyers
    strategy = await kit.running_strategy("f@example.com", broker=credential_id)
    async with kit.executor():
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled(kit, strategy.id, OrderAction.BUY)
    assert buy.status == OrderStatus.FAILED
    assert "log in to the broker again" in (buy.status_reason or "")
    assert fake.book.requests == []
