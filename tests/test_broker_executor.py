"""End to end on each fake broker (tests/fakes/kits.py): the executor places a strategy's
orders at the fake through the broker factory and the account's encrypted credential. A BUY
and a SELL fill and are read back from the broker's own order book; an order the broker
took but never answered is adopted, not sent again; a rejection is final; a dead session
fails the order (log in again), without calling the broker when none is stored. Angel One's
own session renewal is in tests/test_angel_executor.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.connections.model import SELF_LOGIN
from core.db.enums import OrderAction, OrderStatus, Position
from core.db.models import BrokerCredential, Order
from core.embedded.stack import Endpoints
from tests.fakes.angel.kit import AngelKit
from tests.fakes.contract import FakeKit, FaultKind
from tests.fakes.kits import KITS
from tests.order_kit import Kit, at, at_fake_broker, connected, one_buy, settled_in_time

EMAIL = "t@example.com"


@dataclass(frozen=True)
class Wire:
    """How one broker writes an order the executor placed."""

    row: Callable[[dict[str, Any]], tuple[Any, ...]]
    """The fields of an order in the broker's order book that are compared, its id first."""
    filled: Callable[[Order, str], tuple[Any, ...]]
    """What those fields are for one of our orders filled, given its side (BUY / SELL)."""
    tag: Callable[[str], str]
    """The tag of our order id, as the broker's limits shape it."""
    rejected: str
    """Part of the broker's rejection answer (FaultKind.REJECT) that is the order's reason."""


WIRE: dict[str, Wire] = {
    "angel_one": Wire(
        row=lambda o: (o["orderid"], o["ordertag"], o["transactiontype"], o["status"]),
        filled=lambda order, side: (order.broker_order_id, order.client_tag, side,
                                    "complete"),
        tag=lambda order_id: order_id[-15:], rejected="insufficient funds"),
    "dhan": Wire(
        row=lambda o: (o["orderId"], o["correlationId"], o["transactionType"],
                       o["productType"], o["orderStatus"]),
        filled=lambda order, side: (order.broker_order_id, order.client_tag, side,
                                    "INTRADAY", "TRADED"),
        tag=lambda order_id: order_id,  # the whole order id is the correlationId
        rejected="Margin Exceeds"),
    "fyers": Wire(
        row=lambda o: (o["id"], o["orderTag"], o["side"], o["status"]),
        filled=lambda order, side: (order.broker_order_id, f"1:{order.client_tag}",
                                    1 if side == "BUY" else -1, 2),
        tag=lambda order_id: order_id.replace("_", ""), rejected="Margin Shortfall"),
    "zerodha": Wire(
        row=lambda o: (o["order_id"], o["tag"], o["transaction_type"], o["status"]),
        filled=lambda order, side: (order.broker_order_id, order.client_tag, side,
                                    "COMPLETE"),
        tag=lambda order_id: order_id[-20:], rejected="Insufficient funds"),
}


@pytest.fixture(params=sorted(KITS))
def broker_type(request: pytest.FixtureRequest) -> str:
    """Each broker type with a fake (the test id)."""
    param: str = request.param
    return param


@pytest.fixture
async def fake(broker_type: str) -> AsyncIterator[FakeKit]:
    """A running fake of the broker."""
    async with KITS[broker_type]() as running:
        yield running


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext, fake: FakeKit) -> Kit:
    """The order kit on a fake clock at 09:30 IST, its settings pointing at the fake."""
    return at_fake_broker(fake, endpoints, tmp_path, sessions, redis, nc, js)


def booked_ids(fake: FakeKit) -> list[str]:
    """The ids of the orders in the fake's book, oldest first."""
    wire = WIRE[fake.broker_type]
    return [wire.row(o)[0] for o in fake.order_book()]


async def test_a_strategy_buys_and_sells_at_the_broker(kit: Kit, fake: FakeKit) -> None:
    strategy = await kit.running_strategy(EMAIL, broker=await connected(kit, fake, EMAIL))
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        buy = await settled_in_time(kit, strategy.id, OrderAction.BUY)
        assert buy.status == OrderStatus.FILLED, buy.status_reason
        assert (await kit.strategy(strategy.id)).position == Position.BOUGHT
        await kit.clock.set(at(15, 0))  # type: ignore[attr-defined]
        await kit.command(strategy, OrderAction.SELL)
        sell = await settled_in_time(kit, strategy.id, OrderAction.SELL)
        assert sell.status == OrderStatus.FILLED, sell.status_reason
    assert factory.built[0] == fake.broker_type
    wire = WIRE[fake.broker_type]
    assert [wire.row(o) for o in fake.order_book()] == [wire.filled(buy, "BUY"),
                                                        wire.filled(sell, "SELL")]
    assert buy.client_tag == wire.tag(buy.id)
    assert str(buy.average_price) == "2500.75"
    if isinstance(fake, AngelKit):
        assert fake.fake.book.logins == 0  # the stored session was used
    assert len(factory.calls) == 2


async def test_an_order_the_broker_took_but_never_answered_is_adopted_not_resent(
        kit: Kit, fake: FakeKit) -> None:
    credential_id = await connected(kit, fake, EMAIL)
    fake.fault(FaultKind.ACCEPT_THEN_TIMEOUT)
    buy, factory = await one_buy(kit, EMAIL, credential_id)
    assert buy.status == OrderStatus.FILLED, buy.status_reason
    assert booked_ids(fake) == [buy.broker_order_id]
    assert len(factory.calls) == 1


async def test_a_rejection_at_the_broker_is_final(kit: Kit, fake: FakeKit) -> None:
    credential_id = await connected(kit, fake, EMAIL)
    fake.fault(FaultKind.REJECT)
    buy, factory = await one_buy(kit, EMAIL, credential_id)
    assert buy.status == OrderStatus.REJECTED
    assert WIRE[fake.broker_type].rejected in (buy.status_reason or "")
    assert fake.orders_received() == 0
    assert len(factory.calls) == 1


async def test_a_session_the_broker_ended_fails_the_order_as_log_in_again(
        kit: Kit, fake: FakeKit) -> None:
    credential_id = await connected(kit, fake, EMAIL)
    fake.end_session()
    buy, _ = await one_buy(kit, EMAIL, credential_id)
    assert buy.status == OrderStatus.FAILED
    assert "log in to the broker again" in (buy.status_reason or "")
    assert fake.orders_received() == 0


@pytest.mark.parametrize("broker_type", sorted(set(KITS) - SELF_LOGIN))
async def test_an_account_without_a_live_session_fails_without_calling_the_broker(
        kit: Kit, fake: FakeKit) -> None:
    """Not Angel One: it logs in by itself instead (tests/test_angel_executor.py)."""
    credential_id = await connected(kit, fake, EMAIL)
    async with kit.sessions() as session, session.begin():
        row = await session.get(BrokerCredential, credential_id)
        assert row is not None
        row.encrypted_access_token = None  # the user logged out of the broker
    buy, _ = await one_buy(kit, EMAIL, credential_id)
    assert buy.status == OrderStatus.FAILED
    assert "log in to the broker again" in (buy.status_reason or "")
    assert fake.requests_received() == 0
