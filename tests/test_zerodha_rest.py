"""The Zerodha adapter's REST side against the fake Kite: login, orders by id and by tag,
positions, LTP, and every class of failure mapped to what the executor may do next."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from brokers.base import BrokerOrderStatus
from brokers.errors import (
    Ambiguous,
    BrokerUnavailable,
    NotSent,
    OrderRejected,
    TokenExpired,
)
from brokers.zerodha import KiteCredentials, ZerodhaBroker
from brokers.zerodha.auth import token_expiry
from brokers.zerodha.http import KiteHttp
from core.clock import IST
from core.embedded.process import pick_port
from core.ids import new_id
from tests.adapter_kit import buy
from tests.fakes.kite import Fault, KiteFake, running_fake
from tests.zerodha_kit import broker_for, logged_in


@pytest.fixture
async def fake() -> AsyncIterator[KiteFake]:
    """A running fake Kite."""
    async with running_fake() as server:
        yield server


@pytest.fixture
async def broker(fake: KiteFake) -> AsyncIterator[ZerodhaBroker]:
    """A Zerodha account logged in to the fake."""
    account = broker_for(fake)
    await account.connect()
    yield account
    await account.close()


# ---- login ---------------------------------------------------------------------------------


async def test_login_exchanges_the_request_token_with_a_checksum(fake: KiteFake) -> None:
    http = KiteHttp(fake.api_url, fake.book.api_key)
    request_token = fake.book.issue_request_token()
    try:
        session = await http.generate_session(request_token, fake.book.api_secret)
        with pytest.raises(TokenExpired):  # a request token is single use
            await http.generate_session(request_token, fake.book.api_secret)
        with pytest.raises(TokenExpired):  # a wrong secret makes a wrong checksum
            await http.generate_session(fake.book.issue_request_token(), "wrong")
    finally:
        await http.close()
    assert session.access_token in fake.book.access_tokens
    assert session.user_id == fake.book.user_id
    sent = fake.book.requests[0]
    assert (sent.method, sent.path) == ("POST", "/session/token")
    assert sent.headers["X-Kite-Version"] == "3"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in sent.headers
    assert sent.form == {"api_key": fake.book.api_key, "request_token": request_token,
                         "checksum": hashlib.sha256((fake.book.api_key + request_token +
                                                     fake.book.api_secret).encode()).hexdigest()}


def test_a_token_dies_at_six_the_next_morning_ist() -> None:
    evening = datetime(2026, 11, 25, 20, 15, tzinfo=IST)
    assert token_expiry(evening) == datetime(2026, 11, 26, 6, 0, tzinfo=IST)
    before_dawn = datetime(2026, 11, 25, 5, 59, tzinfo=IST)
    assert token_expiry(before_dawn) == datetime(2026, 11, 25, 6, 0, tzinfo=IST)
    assert token_expiry(datetime(2026, 11, 25, 0, 30, tzinfo=UTC)) == datetime(
        2026, 11, 26, 6, 0, tzinfo=IST)  # 06:00 IST on the 25th is 00:30 UTC: already past


async def test_validate_reads_the_profile(broker: ZerodhaBroker, fake: KiteFake) -> None:
    info = await broker.validate()
    assert info.account_id == fake.book.user_id
    assert fake.book.requests[-1].headers["Authorization"].startswith(
        f"token {fake.book.api_key}:")


# ---- orders ---------------------------------------------------------------------------------


def test_the_tag_is_our_order_id_shortened_to_kite_limits() -> None:
    order_id = new_id("ord")
    tag = ZerodhaBroker.tag_for(order_id)
    assert len(tag) == 20
    assert tag.isalnum()
    assert order_id.endswith(tag)
    assert ZerodhaBroker.tag_for(order_id) == tag  # deterministic
    assert ZerodhaBroker.tag_for(new_id("ord")) != tag


async def test_a_market_order_is_placed_with_the_kite_form_and_found_by_tag(
        broker: ZerodhaBroker, fake: KiteFake) -> None:
    tag = ZerodhaBroker.tag_for(new_id("ord"))
    placed = await broker.place_order(buy(tag))
    assert placed.status is BrokerOrderStatus.OPEN
    assert placed.client_tag == tag
    sent = fake.book.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/orders/regular")
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {"variety": "regular", "exchange": "NSE", "tradingsymbol": "RELIANCE",
                         "transaction_type": "BUY", "quantity": "2", "product": "MIS",
                         "order_type": "MARKET", "validity": "DAY",
                         "market_protection": "-1", "tag": tag}

    order = await broker.get_order(placed.broker_order_id)
    assert order.status is BrokerOrderStatus.COMPLETE
    assert order.filled_quantity == 2
    assert str(order.average_price) == "2500.75"
    found = await broker.find_by_tag(tag)
    assert found is not None
    assert found.broker_order_id == placed.broker_order_id
    assert await broker.find_by_tag("NOSUCHTAG") is None
    assert [o.broker_order_id for o in await broker.get_orders()] == [placed.broker_order_id]

    positions = await broker.get_positions()
    assert [(p.exchange, p.symbol, p.quantity) for p in positions] == [("NSE", "RELIANCE", 2)]
    assert str(positions[0].buy_value) == "5001.5"


async def test_an_order_held_open_reads_open_until_filled(broker: ZerodhaBroker,
                                                          fake: KiteFake) -> None:
    fake.book.hold_orders = True
    placed = await broker.place_order(buy("HELD1"))
    assert (await broker.get_order(placed.broker_order_id)).status is BrokerOrderStatus.OPEN
    fake.book.fill(placed.broker_order_id)
    assert (await broker.get_order(placed.broker_order_id)).status is \
        BrokerOrderStatus.COMPLETE


async def test_ltp_is_in_paise(broker: ZerodhaBroker, fake: KiteFake) -> None:
    assert await broker.get_ltp("NSE", "RELIANCE") == 250_075
    assert fake.book.requests[-1].query == [("i", "NSE:RELIANCE")]
    with pytest.raises(BrokerUnavailable, match="no price"):
        await broker.get_ltp("NSE", "NOSUCH")


# ---- failures -------------------------------------------------------------------------------


# The fake kit's own rejection, 5xx, rate limit and dead token: tests/test_broker_contract.py.
@pytest.mark.parametrize(("fault", "error"), [
    (Fault("reject", error_type="InputException", status=400), OrderRejected),
    (Fault("reject", error_type="OrderException", status=500), OrderRejected),
    (Fault("error_5xx", status=500, error_type="GeneralException"), Ambiguous),
])
async def test_kite_errors_on_an_order_map_to_our_classes(
        broker: ZerodhaBroker, fake: KiteFake, fault: Fault, error: type[Exception]) -> None:
    fake.book.arm(fault)
    with pytest.raises(error):
        await broker.place_order(buy("ERR1"))
    assert fake.book.orders == {}  # none of these booked anything


async def test_an_rms_rejection_is_an_accepted_order_that_reads_rejected(
        broker: ZerodhaBroker, fake: KiteFake) -> None:
    fake.book.arm(Fault("rms_reject", message="Insufficient funds. Required margin is 5001"))
    placed = await broker.place_order(buy("RMS1"))
    order = await broker.get_order(placed.broker_order_id)
    assert order.status is BrokerOrderStatus.REJECTED
    assert order.message == "Insufficient funds. Required margin is 5001"


async def test_failed_reads_are_unavailable_not_order_verdicts(broker: ZerodhaBroker,
                                                               fake: KiteFake) -> None:
    fake.book.arm(Fault("error_5xx", group="read", status=503, error_type="NetworkException"))
    with pytest.raises(BrokerUnavailable):
        await broker.find_by_tag("ANY")
    fake.book.arm(Fault("reject", group="read", status=400, error_type="InputException"))
    with pytest.raises(BrokerUnavailable):
        await broker.get_orders()
    with pytest.raises(BrokerUnavailable):
        await broker.get_order("999")  # unknown id: 400 at Kite, never "absent"


async def test_booked_then_5xx_is_ambiguous_too(broker: ZerodhaBroker, fake: KiteFake) -> None:
    fake.book.arm(Fault("book_then_5xx", status=502))
    with pytest.raises(Ambiguous):
        await broker.place_order(buy("B5XX"))
    assert (await broker.find_by_tag("B5XX")) is not None


async def test_a_refused_connection_is_not_sent(fake: KiteFake) -> None:
    fake.api_url = f"http://127.0.0.1:{pick_port(0)}"  # nothing listens there
    account = broker_for(fake)
    try:
        with pytest.raises(NotSent):
            await account.place_order(buy("NS1"))
        with pytest.raises(BrokerUnavailable):
            await account.get_orders()
    finally:
        await account.close()


async def test_a_dead_session_is_refused_before_sending_and_a_new_login_is_picked_up(
        fake: KiteFake) -> None:
    expired = KiteCredentials(api_key=fake.book.api_key, access_token="old",
                              expires_at=datetime.now(UTC) - timedelta(minutes=1))
    reloads: list[KiteCredentials] = []
    fresh = logged_in(fake)

    async def reload() -> KiteCredentials:
        # First the user has not logged in again; then they have.
        reloads.append(expired if not reloads else fresh)
        return reloads[-1]

    account = broker_for(fake, expired, reload=reload)
    try:
        with pytest.raises(TokenExpired):
            await account.place_order(buy("TOK1"))
        assert fake.book.requests == []  # never sent with a token known to be dead
        assert (await account.place_order(buy("TOK2"))).client_tag == "TOK2"
    finally:
        await account.close()


async def test_kite_token_exception_rereads_the_credential_before_the_next_call(
        fake: KiteFake) -> None:
    fresh = logged_in(fake)

    async def reload() -> KiteCredentials:
        return fresh

    account = broker_for(fake, logged_in(fake, token="revoked"), reload=reload)
    try:
        with pytest.raises(TokenExpired):
            await account.get_orders()
        assert await account.get_orders() == []
    finally:
        await account.close()

