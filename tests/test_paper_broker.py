"""The paper broker (BRK-6) against the real PostgreSQL and Redis of the test session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import BrokerOrderStatus, BrokerPosition, OrderRequest, Side
from brokers.errors import (
    Ambiguous,
    BrokerUnavailable,
    NotSent,
    OrderRejected,
    RateLimited,
)
from brokers.paper import (
    FaultMode,
    PaperBroker,
    PaperConfig,
    PaperExchange,
    PaperFaults,
)
from brokers.paper.faults import READ_FAULTS
from core import redis_keys
from core.clock import FakeClock
from core.db.models import PaperOrder
from core.embedded.process import pick_port
from core.messages import Tick
from core.redis import create_redis
from core.settings import Settings
from tests.stubs import eventually

ACCOUNT = "paper:usr_alice"
OTHER = "paper:usr_bob"
Sessions = async_sessionmaker[AsyncSession]


def make_exchange(sessions: Sessions, redis: Redis, clock: FakeClock, *, slippage_bps: int = 5,
                  latency_ms: int = 0, fill_delay_ms: int = 0) -> PaperExchange:
    """A paper exchange with an explicit configuration."""
    return PaperExchange(sessions, redis, clock, PaperConfig(
        slippage_bps=slippage_bps, latency_ms=latency_ms, fill_delay_ms=fill_delay_ms))


def order(tag: str = "ord_1", *, side: Side = Side.BUY, quantity: int = 10,
          symbol: str = "RELIANCE", order_type: str = "MARKET") -> OrderRequest:
    """A request as the executor builds it."""
    return OrderRequest(client_tag=tag, exchange="NSE", symbol=symbol, side=side,
                        quantity=quantity, order_type=order_type)


async def set_ltp(redis: Redis, paise: int, symbol: str = "RELIANCE") -> None:
    """Publish a last price the way the feed does (integer paise)."""
    await redis.set(redis_keys.ltp("NSE", symbol), paise)


async def next_tick(ticks: AsyncIterator[Tick]) -> Tick:
    """The next tick, as a coroutine a task can run."""
    return await anext(ticks)


async def booked(sessions: Sessions) -> list[PaperOrder]:
    """Every row of the paper book, straight from the table."""
    async with sessions() as session:
        return list((await session.execute(select(PaperOrder))).scalars())


@pytest.fixture
def exchange(sessions: Sessions, redis: Redis, clock: FakeClock) -> PaperExchange:
    """A paper exchange with 5 bps slippage, no latency, immediate fills."""
    return make_exchange(sessions, redis, clock)


@pytest.fixture
def faults(redis: Redis) -> PaperFaults:
    """The fault switches."""
    return PaperFaults(redis)


# --- fills ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("side", "ltp", "price"), [
    (Side.BUY, 10_000, "100.05"),     # exactly one tick of slippage
    (Side.SELL, 10_000, "99.95"),
    (Side.BUY, 123_450, "1235.10"),   # 1235.11725 → nearest 0.05 tick
    (Side.SELL, 123_450, "1233.90"),  # 1233.88275 → nearest 0.05 tick
])
async def test_market_order_fills_at_ltp_moved_against_it_on_the_tick(
        exchange: PaperExchange, redis: Redis, clock: FakeClock, sessions: Sessions,
        side: Side, ltp: int, price: str) -> None:
    await set_ltp(redis, ltp)
    filled = await exchange.place(ACCOUNT, order(side=side))
    assert filled.status is BrokerOrderStatus.COMPLETE
    assert filled.filled_quantity == 10
    assert filled.average_price == Decimal(price)
    assert filled.client_tag == "ord_1"
    assert filled.broker_order_id.startswith("ppo_")
    [row] = await booked(sessions)
    assert row.id == filled.broker_order_id
    assert row.created_at == clock.now()  # the receive instant, from the exchange's clock
    assert row.average_price == Decimal(price)


async def test_no_ltp_is_rejected_and_booked(exchange: PaperExchange) -> None:
    with pytest.raises(OrderRejected, match="no market price for NSE:NOPE") as caught:
        await exchange.place(ACCOUNT, order("ord_x", symbol="NOPE"))
    assert caught.value.response is not None
    found = await exchange.find_by_tag(ACCOUNT, "ord_x")
    assert found is not None
    assert found.status is BrokerOrderStatus.REJECTED
    assert found.broker_order_id == caught.value.response["broker_order_id"]
    assert found.message == "no market price for NSE:NOPE"


@pytest.mark.parametrize("request_", [order(order_type="LIMIT"), order(quantity=0),
                                      order(quantity=-5), order(tag="x" * 33)])
async def test_malformed_request_is_refused_without_booking(
        exchange: PaperExchange, redis: Redis, sessions: Sessions,
        request_: OrderRequest) -> None:
    await set_ltp(redis, 10_000)
    with pytest.raises(OrderRejected):
        await exchange.place(ACCOUNT, request_)
    assert await booked(sessions) == []


async def test_latency_reads_the_price_after_the_wait(sessions: Sessions, redis: Redis,
                                                      clock: FakeClock) -> None:
    exchange = make_exchange(sessions, redis, clock, slippage_bps=0, latency_ms=50)
    await set_ltp(redis, 10_000)
    received = clock.now()
    task = asyncio.create_task(exchange.place(ACCOUNT, order()))
    await eventually(lambda: clock.sleepers == 1, message="exchange waiting its latency")
    await set_ltp(redis, 10_100)
    await clock.advance(0.05)
    filled = await task
    assert filled.average_price == Decimal("101.00")
    [row] = await booked(sessions)
    assert row.created_at == received
    assert row.filled_at == received + timedelta(milliseconds=50)


async def test_fill_delay_keeps_the_order_open_until_fill_at(sessions: Sessions, redis: Redis,
                                                             clock: FakeClock) -> None:
    exchange = make_exchange(sessions, redis, clock, fill_delay_ms=2000)
    await set_ltp(redis, 10_000)
    placed = await exchange.place(ACCOUNT, order())
    assert placed.status is BrokerOrderStatus.OPEN
    assert (placed.filled_quantity, placed.average_price) == (0, None)
    await set_ltp(redis, 20_000)
    await clock.advance(1.999)
    still = await exchange.get(ACCOUNT, placed.broker_order_id)
    assert still.status is BrokerOrderStatus.OPEN
    assert await exchange.positions(ACCOUNT) == []
    await clock.advance(0.001)
    filled = await exchange.get(ACCOUNT, placed.broker_order_id)
    assert filled.status is BrokerOrderStatus.COMPLETE
    assert filled.average_price == Decimal("200.10")  # the LTP at settlement, plus 5 bps
    assert [o.status for o in await exchange.orders(ACCOUNT)] == [BrokerOrderStatus.COMPLETE]


async def test_fill_delay_settles_through_orders_and_positions(sessions: Sessions, redis: Redis,
                                                               clock: FakeClock) -> None:
    exchange = make_exchange(sessions, redis, clock, slippage_bps=0, fill_delay_ms=100)
    await set_ltp(redis, 10_000)
    await exchange.place(ACCOUNT, order())
    await clock.advance(0.1)
    [position] = await exchange.positions(ACCOUNT)
    assert (position.quantity, position.buy_value) == (10, Decimal("1000.00"))
    [settled] = await exchange.orders(ACCOUNT)
    assert settled.status is BrokerOrderStatus.COMPLETE


# --- the book ------------------------------------------------------------------------------

async def test_find_by_tag_present_absent_and_shared(exchange: PaperExchange, redis: Redis,
                                                     clock: FakeClock) -> None:
    await set_ltp(redis, 10_000)
    first = await exchange.place(ACCOUNT, order("ord_a"))
    assert await exchange.find_by_tag(ACCOUNT, "ord_a") == first
    assert await exchange.find_by_tag(ACCOUNT, "ord_missing") is None
    assert await exchange.find_by_tag(OTHER, "ord_a") is None  # accounts do not see each other
    await clock.advance(1)
    second = await exchange.place(ACCOUNT, order("ord_a"))  # the broker does not de-duplicate
    assert second.broker_order_id != first.broker_order_id
    book = await exchange.orders(ACCOUNT)
    assert [o.broker_order_id for o in book] == [first.broker_order_id, second.broker_order_id]
    assert await exchange.find_by_tag(ACCOUNT, "ord_a") == second


async def test_positions_after_a_buy_and_a_sell(exchange: PaperExchange, redis: Redis) -> None:
    await set_ltp(redis, 10_000)
    await exchange.place(ACCOUNT, order("ord_b"))
    assert await exchange.positions(ACCOUNT) == [BrokerPosition(
        exchange="NSE", symbol="RELIANCE", quantity=10, buy_value=Decimal("1000.50"),
        sell_value=Decimal("0"))]
    with pytest.raises(OrderRejected):
        await exchange.place(ACCOUNT, order("ord_n", symbol="NOPE"))  # rejected: no position
    await set_ltp(redis, 10_100)
    await exchange.place(ACCOUNT, order("ord_s", side=Side.SELL))
    assert await exchange.positions(ACCOUNT) == [BrokerPosition(
        exchange="NSE", symbol="RELIANCE", quantity=0, buy_value=Decimal("1000.50"),
        sell_value=Decimal("1009.50"))]
    assert await exchange.positions(OTHER) == []


async def test_book_survives_a_new_exchange_instance(exchange: PaperExchange, redis: Redis,
                                                     sessions: Sessions,
                                                     clock: FakeClock) -> None:
    await set_ltp(redis, 10_000)
    placed = await exchange.place(ACCOUNT, order("ord_c"))
    reborn = make_exchange(sessions, redis, clock)  # as after the process was killed
    assert await reborn.get(ACCOUNT, placed.broker_order_id) == placed
    assert await reborn.find_by_tag(ACCOUNT, "ord_c") == placed
    assert await reborn.orders(ACCOUNT) == [placed]


async def test_book_and_positions_are_of_today_in_ist(exchange: PaperExchange, redis: Redis,
                                                      clock: FakeClock) -> None:
    await set_ltp(redis, 10_000)
    placed = await exchange.place(ACCOUNT, order("ord_d"))
    await clock.advance(24 * 3600)
    assert await exchange.orders(ACCOUNT) == []
    assert await exchange.positions(ACCOUNT) == []
    assert await exchange.get(ACCOUNT, placed.broker_order_id) == placed
    assert await exchange.find_by_tag(ACCOUNT, "ord_d") == placed  # never a false "absent"


async def test_unknown_order_id_is_unavailable(exchange: PaperExchange, redis: Redis) -> None:
    await set_ltp(redis, 10_000)
    placed = await exchange.place(ACCOUNT, order())
    with pytest.raises(BrokerUnavailable, match="no order"):
        await exchange.get(ACCOUNT, "ppo_unknown")
    with pytest.raises(BrokerUnavailable):
        await exchange.get(OTHER, placed.broker_order_id)


async def test_ltp_in_paise(exchange: PaperExchange, redis: Redis) -> None:
    await set_ltp(redis, 245_065)
    assert await exchange.ltp("NSE", "RELIANCE") == 245_065
    with pytest.raises(BrokerUnavailable, match="no market price for NSE:NOPE"):
        await exchange.ltp("NSE", "NOPE")


async def test_redis_down_is_not_sent_and_reads_unavailable(sessions: Sessions,
                                                            clock: FakeClock) -> None:
    dead = create_redis(f"redis://127.0.0.1:{pick_port(0)}", timeout_s=0.5)
    try:
        exchange = make_exchange(sessions, dead, clock)
        with pytest.raises(NotSent, match="before booking"):
            await exchange.place(ACCOUNT, order("ord_z"))
        with pytest.raises(BrokerUnavailable):
            await exchange.find_by_tag(ACCOUNT, "ord_z")
    finally:
        await dead.aclose()
    assert await booked(sessions) == []


# --- fault switches ------------------------------------------------------------------------

async def test_take_consumes_account_switch_before_global(faults: PaperFaults,
                                                          redis: Redis) -> None:
    await faults.set(FaultMode.REJECT, count=2)
    await faults.set(FaultMode.ERROR_5XX, account=ACCOUNT)
    taken = [await faults.take(ACCOUNT) for _ in range(4)]
    assert [f.mode if f else None for f in taken] == [
        FaultMode.ERROR_5XX, FaultMode.REJECT, FaultMode.REJECT, None]
    assert await redis.hgetall(redis_keys.PAPER_FAULTS) == {}


async def test_take_global_serves_every_account_and_forever_lasts(faults: PaperFaults) -> None:
    await faults.set("rate_limit", count=1)
    other = await faults.take(OTHER)
    assert other is not None
    assert other.mode is FaultMode.RATE_LIMIT
    assert await faults.take(ACCOUNT) is None
    await faults.set(FaultMode.FAIL_BEFORE_SEND, count=-1, account=ACCOUNT)
    for _ in range(5):
        forever = await faults.take(ACCOUNT)
        assert forever is not None
        assert forever.mode is FaultMode.FAIL_BEFORE_SEND
    assert await faults.take(OTHER) is None
    await faults.clear()
    assert await faults.take(ACCOUNT) is None


async def test_reads_and_orders_consume_their_own_switches(faults: PaperFaults) -> None:
    await faults.set(FaultMode.LOOKUP_FAIL)
    assert await faults.take(ACCOUNT) is None  # an order does not eat a read's switch
    await faults.set(FaultMode.REJECT)
    assert await faults.take(ACCOUNT, modes=READ_FAULTS) is not None
    assert await faults.take(ACCOUNT, modes=READ_FAULTS) is None
    rejected = await faults.take(ACCOUNT)
    assert rejected is not None
    assert rejected.mode is FaultMode.REJECT


async def test_set_refuses_a_zero_count(faults: PaperFaults) -> None:
    with pytest.raises(ValueError, match="count"):
        await faults.set(FaultMode.REJECT, count=0)


async def test_fault_reject_books_and_raises(exchange: PaperExchange, faults: PaperFaults,
                                             redis: Redis) -> None:
    await set_ltp(redis, 10_000)
    await faults.set(FaultMode.REJECT, account=ACCOUNT)
    with pytest.raises(OrderRejected, match="paper fault: reject"):
        await exchange.place(ACCOUNT, order("ord_r"))
    found = await exchange.find_by_tag(ACCOUNT, "ord_r")
    assert found is not None
    assert found.status is BrokerOrderStatus.REJECTED
    assert (await exchange.place(ACCOUNT, order("ord_r2"))).status is BrokerOrderStatus.COMPLETE


@pytest.mark.parametrize(("mode", "error"), [
    (FaultMode.FAIL_BEFORE_SEND, NotSent),
    (FaultMode.RATE_LIMIT, RateLimited),
    (FaultMode.ERROR_5XX, Ambiguous),
])
async def test_faults_that_book_nothing(exchange: PaperExchange, faults: PaperFaults,
                                        redis: Redis, sessions: Sessions, mode: FaultMode,
                                        error: type[Exception]) -> None:
    await set_ltp(redis, 10_000)
    await faults.set(mode)
    with pytest.raises(error):
        await exchange.place(ACCOUNT, order("ord_f"))
    assert await booked(sessions) == []
    assert await exchange.find_by_tag(ACCOUNT, "ord_f") is None


async def test_rate_limit_is_a_not_sent(exchange: PaperExchange, faults: PaperFaults,
                                        redis: Redis) -> None:
    await set_ltp(redis, 10_000)
    await faults.set(FaultMode.RATE_LIMIT)
    with pytest.raises(NotSent) as caught:
        await exchange.place(ACCOUNT, order())
    assert isinstance(caught.value, RateLimited)
    assert caught.value.retry_after_s > 0


async def test_fault_timeout_after_accept_books_then_is_ambiguous(
        exchange: PaperExchange, faults: PaperFaults, redis: Redis) -> None:
    await set_ltp(redis, 10_000)
    await faults.set(FaultMode.TIMEOUT_AFTER_ACCEPT)
    with pytest.raises(Ambiguous):
        await exchange.place(ACCOUNT, order("ord_t"))
    found = await exchange.find_by_tag(ACCOUNT, "ord_t")
    assert found is not None
    assert found.status is BrokerOrderStatus.COMPLETE
    assert found.average_price == Decimal("100.05")


async def test_fault_hang_after_accept_books_before_hanging(
        exchange: PaperExchange, faults: PaperFaults, redis: Redis, clock: FakeClock) -> None:
    await set_ltp(redis, 10_000)
    await faults.set(FaultMode.HANG_AFTER_ACCEPT, account=ACCOUNT)
    task = asyncio.create_task(exchange.place(ACCOUNT, order("ord_h")))
    found = await eventually(lambda: exchange.find_by_tag(ACCOUNT, "ord_h"),
                             message="order booked while the call hangs")
    assert found.status is BrokerOrderStatus.COMPLETE
    await eventually(lambda: clock.sleepers == 1, message="call hanging")
    assert not task.done()
    task.cancel()  # as the SIGKILL test kills the executor here
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await exchange.find_by_tag(ACCOUNT, "ord_h") == found


async def test_fault_hang_returns_the_order_after_hang_s(
        exchange: PaperExchange, faults: PaperFaults, redis: Redis, clock: FakeClock) -> None:
    await set_ltp(redis, 10_000)
    await faults.set(FaultMode.HANG_AFTER_ACCEPT, hang_s=5)
    task = asyncio.create_task(exchange.place(ACCOUNT, order("ord_h")))
    await eventually(lambda: clock.sleepers == 1, message="call hanging")
    await clock.advance(4.9)
    assert not task.done()
    await clock.advance(0.1)
    placed = await task
    assert placed.status is BrokerOrderStatus.COMPLETE


async def test_fault_lookup_fail_fails_the_next_reads(exchange: PaperExchange,
                                                      faults: PaperFaults,
                                                      redis: Redis) -> None:
    await set_ltp(redis, 10_000)
    placed = await exchange.place(ACCOUNT, order("ord_l"))
    await faults.set(FaultMode.LOOKUP_FAIL, count=3, account=ACCOUNT)
    assert len(await exchange.positions(ACCOUNT)) == 1  # positions take no lookup fault
    with pytest.raises(BrokerUnavailable, match="lookup_fail"):
        await exchange.get(ACCOUNT, placed.broker_order_id)
    with pytest.raises(BrokerUnavailable):
        await exchange.orders(ACCOUNT)
    with pytest.raises(BrokerUnavailable):
        await exchange.find_by_tag(ACCOUNT, "ord_l")
    assert await exchange.find_by_tag(ACCOUNT, "ord_l") == placed


# --- the broker and its ticker -------------------------------------------------------------

async def test_paper_broker_delegates_to_the_exchange(exchange: PaperExchange,
                                                      redis: Redis) -> None:
    broker = PaperBroker(ACCOUNT, exchange)
    await broker.connect()
    assert broker.broker_type == "paper"
    assert broker.account == ACCOUNT
    assert (await broker.validate()).account_id == ACCOUNT
    await set_ltp(redis, 10_000)
    placed = await broker.place_order(order("ord_p"))
    assert await broker.get_order(placed.broker_order_id) == placed
    assert await broker.get_orders() == [placed]
    assert await broker.find_by_tag("ord_p") == placed
    assert await broker.find_by_tag("ord_q") is None
    assert [p.quantity for p in await broker.get_positions()] == [10]
    assert await broker.get_ltp("NSE", "RELIANCE") == 10_000
    await broker.close()


async def test_ticker_yields_a_tick_when_the_ltp_changes(exchange: PaperExchange, redis: Redis,
                                                         clock: FakeClock) -> None:
    await set_ltp(redis, 10_000)
    ticker = PaperBroker(ACCOUNT, exchange).ticker()
    await ticker.subscribe([("NSE", "RELIANCE"), ("NSE", "TCS")])
    ticks = ticker.ticks()
    first = await anext(ticks)
    assert (first.symbol, first.ltp_paise) == ("RELIANCE", 10_000)
    assert first.exchange_ts == first.received_ts
    assert abs(first.received_ts / 1e9 - clock.now().timestamp()) < 1e-3

    following = asyncio.create_task(next_tick(ticks))
    await eventually(lambda: clock.sleepers == 1, message="ticker pausing")
    await clock.advance(0.2)  # a poll with no change yields nothing
    await eventually(lambda: clock.sleepers == 1, message="ticker pausing again")
    assert not following.done()
    await set_ltp(redis, 10_500)
    await clock.advance(0.2)
    tick: Tick = await asyncio.wait_for(following, timeout=5)
    assert (tick.exchange, tick.symbol, tick.ltp_paise) == ("NSE", "RELIANCE", 10_500)

    closing = asyncio.create_task(next_tick(ticks))
    await eventually(lambda: clock.sleepers == 1, message="ticker pausing")
    await ticker.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(closing, timeout=5)


def test_config_from_settings(settings: Settings) -> None:
    config = PaperConfig.from_settings(settings)
    assert config == PaperConfig(slippage_bps=settings.paper_slippage_bps,
                                 latency_ms=settings.paper_latency_ms,
                                 fill_delay_ms=settings.paper_fill_delay_ms)
