"""One contract every broker adapter passes, run against each broker's fake (tests/fakes/kits.py).

The fakes speak their broker's real wire; the adapters are used only through BaseBroker
and its Ticker, so a failure here is an adapter (or fake) that breaks the executor's or
the feed's assumptions: login, a tagged MARKET order found again by its tag (or proven
absent), the order book, positions, LTP, each error class, the ticker (subscribe, parse,
reconnect after a drop, skip a malformed frame), and the instrument master's atomic
refresh that refuses a corrupt download.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from brokers.base import (
    BaseBroker,
    BrokerOrderStatus,
    OrderRequest,
    Side,
    Ticker,
)
from brokers.errors import (
    Ambiguous,
    InstrumentMasterInvalid,
    OrderRejected,
    RateLimited,
    TokenExpired,
)
from core.ids import new_id
from core.messages import Tick
from tests.fakes.contract import FakeKit, FaultKind
from tests.fakes.kits import KITS
from tests.stubs import eventually

RELIANCE = ("NSE", "RELIANCE")


@pytest.fixture(params=sorted(KITS))
async def kit(request: pytest.FixtureRequest) -> AsyncIterator[FakeKit]:
    """A running fake of each broker (the test id is the broker type)."""
    async with KITS[request.param]() as running:
        assert running.broker_type == request.param
        yield running


@pytest.fixture
async def broker(kit: FakeKit) -> BaseBroker:
    """The kit's connected adapter."""
    return await kit.broker()


def buy(broker: BaseBroker, *, symbol: str = "RELIANCE", quantity: int = 3) -> OrderRequest:
    """An intraday MARKET BUY tagged with a fresh order id, shortened the adapter's way."""
    return OrderRequest(client_tag=broker.tag_for(new_id("ord")), exchange="NSE",
                        symbol=symbol, side=Side.BUY, quantity=quantity)


class Collector:
    """Runs a ticker's `ticks()` in the background and keeps what it yields."""

    def __init__(self, ticker: Ticker) -> None:
        self.ticker = ticker
        self.ticks: list[Tick] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for tick in self.ticker.ticks():
            self.ticks.append(tick)

    async def close(self) -> None:
        """Close the ticker; its `ticks()` must end."""
        await self.ticker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, timeout=5)


@pytest.fixture
async def ticks(broker: BaseBroker) -> AsyncIterator[Collector]:
    """The adapter's ticker subscribed to NSE:RELIANCE, collecting ticks."""
    collector = Collector(broker.ticker())
    await collector.ticker.subscribe([RELIANCE])
    yield collector
    await collector.close()


async def delivered(kit: FakeKit, ticks: Collector, paise: int) -> Tick:
    """Push a RELIANCE tick at `paise` until the ticker yields it (a subscription or a
    reconnect may still be on its way); returns the tick."""
    async def arrived() -> Tick | None:
        await kit.push_tick(*RELIANCE, paise)
        await asyncio.sleep(0.05)
        return next((t for t in ticks.ticks if t.ltp_paise == paise), None)

    found: Tick = await eventually(arrived, timeout=10, interval=0.1,
                                   message=f"a tick at {paise} paise")
    return found


# ---- login, orders, book, positions, LTP ------------------------------------------------------


async def test_login_validates_the_session(kit: FakeKit, broker: BaseBroker) -> None:
    info = await broker.validate()
    assert info.account_id
    assert broker.broker_type == kit.broker_type


async def test_a_tagged_market_order_is_found_by_its_tag_and_fills(
        kit: FakeKit, broker: BaseBroker) -> None:
    kit.set_ltp(*RELIANCE, 250_050)
    request = buy(broker)
    placed = await broker.place_order(request)
    assert placed.broker_order_id
    assert placed.client_tag == request.client_tag
    assert kit.orders_received() == 1

    async def filled() -> object:
        found = await broker.find_by_tag(request.client_tag)
        return found if found is not None and found.status.final else None

    order = await eventually(filled, message="the order filled")
    assert order.broker_order_id == placed.broker_order_id
    assert order.status is BrokerOrderStatus.COMPLETE
    assert order.filled_quantity == 3
    assert order.average_price == Decimal("2500.50")
    by_id = await broker.get_order(placed.broker_order_id)
    assert (by_id.broker_order_id, by_id.status) == (placed.broker_order_id,
                                                      BrokerOrderStatus.COMPLETE)
    assert await broker.find_by_tag(broker.tag_for(new_id("ord"))) is None  # proven absent


async def test_the_order_book_and_positions_show_the_orders(
        kit: FakeKit, broker: BaseBroker) -> None:
    assert await broker.get_orders() == []
    first = await broker.place_order(buy(broker, quantity=2))
    second = await broker.place_order(buy(broker, symbol="SBIN", quantity=5))
    book = await broker.get_orders()
    assert {o.broker_order_id for o in book} == {first.broker_order_id,
                                                 second.broker_order_id}

    async def long_both() -> bool:
        held = {(p.exchange, p.symbol): p.quantity for p in await broker.get_positions()}
        return held == {RELIANCE: 2, ("NSE", "SBIN"): 5}

    await eventually(long_both, message="positions of both fills")


async def test_ltp_is_in_paise(kit: FakeKit, broker: BaseBroker) -> None:
    kit.set_ltp("NSE", "INFY", 107_435)
    assert await broker.get_ltp("NSE", "INFY") == 107_435
    kit.set_ltp("NSE", "INFY", 107_440)
    assert await broker.get_ltp("NSE", "INFY") == 107_440


# ---- each error class ----------------------------------------------------------------------


async def test_a_rejection_is_final(kit: FakeKit, broker: BaseBroker) -> None:
    kit.fault(FaultKind.REJECT)
    request = buy(broker)
    with pytest.raises(OrderRejected):
        await broker.place_order(request)
    found = await broker.find_by_tag(request.client_tag)
    assert found is None or found.status is BrokerOrderStatus.REJECTED
    assert kit.orders_received() == 0  # refused, not booked


async def test_an_accepted_order_whose_answer_timed_out_is_found_by_tag(
        kit: FakeKit, broker: BaseBroker) -> None:
    kit.fault(FaultKind.ACCEPT_THEN_TIMEOUT)
    request = buy(broker)
    with pytest.raises(Ambiguous, match="ReadTimeout"):
        await broker.place_order(request)
    assert kit.orders_received() == 1  # the order exists although we never heard so
    found = await eventually(lambda: broker.find_by_tag(request.client_tag),
                             message="the order found by its tag")
    assert found.client_tag == request.client_tag
    assert found.status is BrokerOrderStatus.COMPLETE
    assert kit.orders_received() == 1


async def test_a_5xx_is_ambiguous_and_the_tag_proves_no_order(
        kit: FakeKit, broker: BaseBroker) -> None:
    kit.fault(FaultKind.ERROR_5XX)
    request = buy(broker)
    with pytest.raises(Ambiguous):
        await broker.place_order(request)
    assert await broker.find_by_tag(request.client_tag) is None
    assert kit.orders_received() == 0


async def test_a_rate_limit_is_not_sent(kit: FakeKit, broker: BaseBroker) -> None:
    kit.fault(FaultKind.RATE_LIMIT)
    request = buy(broker)
    with pytest.raises(RateLimited) as caught:  # a NotSent: safe to send again
        await broker.place_order(request)
    assert caught.value.retry_after_s == 1.0  # the fake's Retry-After, or the default
    assert kit.orders_received() == 0
    assert (await broker.place_order(request)).client_tag == request.client_tag  # retry


async def test_an_expired_token_is_reported(kit: FakeKit, broker: BaseBroker) -> None:
    kit.fault(FaultKind.TOKEN_EXPIRED)
    with pytest.raises(TokenExpired):
        await broker.validate()
    kit.fault(FaultKind.TOKEN_EXPIRED)
    with pytest.raises(TokenExpired):
        await broker.place_order(buy(broker))
    assert kit.orders_received() == 0


# ---- the ticker ----------------------------------------------------------------------------


async def test_the_ticker_parses_the_brokers_ticks(kit: FakeKit, ticks: Collector) -> None:
    tick = await delivered(kit, ticks, 250_125)
    assert (tick.exchange, tick.symbol, tick.ltp_paise) == ("NSE", "RELIANCE", 250_125)
    assert tick.received_ts > 0
    assert tick.exchange_ts > 0
    await delivered(kit, ticks, 249_990)


async def test_the_ticker_reconnects_and_resubscribes_after_a_drop(
        kit: FakeKit, ticks: Collector) -> None:
    await delivered(kit, ticks, 250_000)
    before = kit.ticker_connections()
    kit.fault(FaultKind.SOCKET_DROP)
    await delivered(kit, ticks, 249_000)
    assert kit.ticker_connections() > before


async def test_a_malformed_frame_is_skipped(kit: FakeKit, ticks: Collector) -> None:
    await delivered(kit, ticks, 250_000)
    connections, seen = kit.ticker_connections(), len(ticks.ticks)
    kit.fault(FaultKind.MALFORMED_PACKET)
    await kit.push_tick(*RELIANCE, 251_000)  # goes out as garbage
    await delivered(kit, ticks, 252_000)
    assert {t.ltp_paise for t in ticks.ticks[seen:]} <= {251_000, 252_000}
    assert kit.ticker_connections() == connections  # skipped, not a reason to reconnect


# ---- the instrument master -----------------------------------------------------------------


async def test_a_corrupt_instrument_master_is_refused_and_the_old_one_stays(
        kit: FakeKit, broker: BaseBroker) -> None:
    await kit.refresh_instruments(broker)
    kit.instrument_master(corrupt=True)
    with pytest.raises(InstrumentMasterInvalid):
        await kit.refresh_instruments(broker)
    # Symbols still map to the broker's tokens: the ticker subscribes and parses.
    collector = Collector(broker.ticker())
    try:
        await collector.ticker.subscribe([RELIANCE])
        await delivered(kit, collector, 250_500)
    finally:
        await collector.close()
    kit.instrument_master()
    await kit.refresh_instruments(broker)  # a good one is taken again
