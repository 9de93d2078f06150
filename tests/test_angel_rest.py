"""The Angel One adapter's REST side against the fake SmartAPI: the TOTP login, orders by
id and by tag, positions, LTP, and every class of failure mapped to what the executor may
do next."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from brokers.angel_one import AngelOneBroker
from brokers.angel_one.auth import jwt_expiry, session_expiry
from brokers.base import BrokerOrderStatus
from brokers.errors import (
    Ambiguous,
    BrokerUnavailable,
    NotSent,
    OrderRejected,
    TokenExpired,
)
from core.embedded.process import pick_port
from core.ids import new_id
from tests.adapter_kit import buy
from tests.angel_kit import broker_for, credentials, session_at
from tests.fakes.angel import AngelFake, Fault, running_fake
from tests.fakes.angel.book import fake_jwt

ORDER_PATH = "/rest/secure/angelbroking/order/v1/placeOrder"


@pytest.fixture
async def fake() -> AsyncIterator[AngelFake]:
    """A running fake SmartAPI."""
    async with running_fake() as server:
        yield server


@pytest.fixture
async def broker(fake: AngelFake) -> AsyncIterator[AngelOneBroker]:
    """An Angel One account with a live session at the fake."""
    account = broker_for(fake, credentials(fake, session=session_at(fake)))
    await account.connect()
    yield account
    await account.close()


def sent(fake: AngelFake, path_end: str) -> list[dict[str, object]]:
    """Bodies the fake received on paths ending with `path_end`."""
    return [r.body for r in fake.book.requests if r.path.endswith(path_end)]


# ---- login ---------------------------------------------------------------------------------


async def test_the_adapter_logs_in_with_pin_and_totp_on_first_use(fake: AngelFake) -> None:
    stored = []

    async def on_login(session: object) -> None:
        stored.append(session)

    account = broker_for(fake, on_login=on_login)
    try:
        info = await account.validate()
    finally:
        await account.close()
    assert info.account_id == fake.book.client_code
    assert fake.book.logins == 1
    login = fake.book.requests[0]
    assert login.path == "/rest/auth/angelbroking/user/v1/loginByPassword"
    assert set(login.body) == {"clientcode", "password", "totp"}
    assert login.body["clientcode"] == fake.book.client_code
    assert pyotp.TOTP(fake.book.totp_secret).verify(str(login.body["totp"]), valid_window=1)
    assert "Authorization" not in login.headers
    assert login.headers["X-Privatekey"] == fake.book.api_key
    assert (login.headers["X-Usertype"], login.headers["X-Sourceid"]) == ("USER", "WEB")
    assert login.headers["Content-Type"] == "application/json"
    profile = fake.book.requests[1]
    assert profile.headers["Authorization"].startswith("Bearer ")
    assert len(stored) == 1
    assert account.session is not None
    assert account.session.jwt_token in fake.book.jwts


@pytest.mark.parametrize("field", ["pin", "totp_secret"])
async def test_wrong_pin_or_totp_is_token_expired(fake: AngelFake, field: str) -> None:
    creds = credentials(fake)
    creds = (replace(creds, pin="9999") if field == "pin"
             else replace(creds, totp_secret=pyotp.random_base32()))
    account = broker_for(fake, creds)
    try:
        with pytest.raises(TokenExpired):
            await account.validate()
    finally:
        await account.close()
    assert fake.book.logins == 0


def test_a_session_dies_28_hours_after_login_or_at_the_jwt_exp() -> None:
    login_at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert session_expiry(login_at, "not-a-jwt") == login_at + timedelta(hours=28)
    token = fake_jwt("A1")
    claimed = jwt_expiry(token)
    assert claimed is not None
    assert session_expiry(datetime.now(UTC), token) == claimed
    assert jwt_expiry("Bearer " + token) == claimed


async def test_an_expired_session_is_replaced_by_a_login_before_the_call(
        fake: AngelFake) -> None:
    old = session_at(fake, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    account = broker_for(fake, credentials(fake, session=old))
    try:
        assert await account.get_orders() == []
    finally:
        await account.close()
    assert fake.book.logins == 1
    book_call = fake.book.requests[-1]
    assert old.jwt_token not in book_call.headers["Authorization"]


async def test_without_pin_and_totp_a_dead_session_is_refused_before_sending(
        fake: AngelFake) -> None:
    old = session_at(fake, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    account = broker_for(fake, credentials(fake, session=old, can_login=False))
    try:
        with pytest.raises(TokenExpired):
            await account.place_order(buy("TOK1"))
    finally:
        await account.close()
    assert fake.book.requests == []


async def test_a_refused_token_is_not_used_again(fake: AngelFake) -> None:
    account = broker_for(fake, credentials(fake, session=session_at(fake)))
    fake.book.arm(Fault("token_expired", group="any"))
    try:
        with pytest.raises(TokenExpired):
            await account.get_orders()
        assert fake.book.logins == 0
        assert await account.get_orders() == []  # logged in again first
    finally:
        await account.close()
    assert fake.book.logins == 1


# ---- orders ---------------------------------------------------------------------------------


def test_the_tag_is_our_order_id_shortened_to_angel_limits() -> None:
    order_id = new_id("ord")
    tag = AngelOneBroker.tag_for(order_id)
    assert len(tag) == 15
    assert tag.isalnum()
    assert order_id.endswith(tag)
    assert AngelOneBroker.tag_for(order_id) == tag
    assert AngelOneBroker.tag_for(new_id("ord")) != tag


async def test_a_market_order_is_placed_with_angels_body_and_found_by_tag(
        broker: AngelOneBroker, fake: AngelFake) -> None:
    tag = AngelOneBroker.tag_for(new_id("ord"))
    placed = await broker.place_order(buy(tag))
    assert placed.status is BrokerOrderStatus.OPEN
    assert placed.client_tag == tag
    request = next(r for r in fake.book.requests if r.path == ORDER_PATH)
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {"variety": "NORMAL", "tradingsymbol": "RELIANCE-EQ",
                            "symboltoken": "2885", "transactiontype": "BUY",
                            "exchange": "NSE", "ordertype": "MARKET",
                            "producttype": "INTRADAY", "duration": "DAY", "price": "0",
                            "squareoff": "0", "stoploss": "0", "quantity": "2",
                            "ordertag": tag}

    order = await broker.get_order(placed.broker_order_id)
    assert fake.book.requests[-1].path.startswith(
        "/rest/secure/angelbroking/order/v1/details/")  # the unique id is known
    assert order.status is BrokerOrderStatus.COMPLETE
    assert order.filled_quantity == 2
    assert str(order.average_price) == "2500.75"
    found = await broker.find_by_tag(tag)
    assert found is not None
    assert found.broker_order_id == placed.broker_order_id
    assert await broker.find_by_tag("NOSUCHTAG") is None
    positions = await broker.get_positions()
    assert [(p.exchange, p.symbol, p.quantity) for p in positions] == [("NSE", "RELIANCE", 2)]
    assert str(positions[0].buy_value) == "5001.50"


async def test_an_order_unknown_to_this_process_is_read_from_the_book(
        broker: AngelOneBroker, fake: AngelFake) -> None:
    fake.book.hold_orders = True
    placed = await broker.place_order(buy("HELD1"))
    other = broker_for(fake, credentials(fake, session=session_at(fake)))
    try:
        assert (await other.get_order(placed.broker_order_id)).status is \
            BrokerOrderStatus.OPEN
        assert fake.book.requests[-1].path.endswith("/getOrderBook")
        fake.book.fill(placed.broker_order_id)
        assert (await other.get_order(placed.broker_order_id)).status is \
            BrokerOrderStatus.COMPLETE
        with pytest.raises(BrokerUnavailable):
            await other.get_order("999")
    finally:
        await other.close()


async def test_ltp_is_in_paise_and_an_unknown_symbol_is_refused(
        broker: AngelOneBroker, fake: AngelFake) -> None:
    assert await broker.get_ltp("NSE", "RELIANCE") == 250_075
    assert sent(fake, "/getLtpData")[-1] == {"exchange": "NSE",
                                             "tradingsymbol": "RELIANCE-EQ",
                                             "symboltoken": "2885"}
    with pytest.raises(OrderRejected, match="scrip master"):
        await broker.get_ltp("NSE", "NOSUCH")
    with pytest.raises(BrokerUnavailable):
        await broker.get_ltp("NSE", "TCS")  # listed, but the fake has no price


# ---- failures -------------------------------------------------------------------------------


# The fake kit's own rejection, 5xx, rate limit and dead token: tests/test_broker_contract.py.
@pytest.mark.parametrize(("fault", "error"), [
    (Fault("reject", code="AB1004", message="Something Went Wrong"), Ambiguous),
])
async def test_angel_errors_on_an_order_map_to_our_classes(
        broker: AngelOneBroker, fake: AngelFake, fault: Fault,
        error: type[Exception]) -> None:
    fake.book.arm(fault)
    with pytest.raises(error):
        await broker.place_order(buy("ERR1"))
    assert fake.book.orders == {}


async def test_angels_own_validation_rejects_a_long_tag(broker: AngelOneBroker,
                                                        fake: AngelFake) -> None:
    with pytest.raises(OrderRejected, match="AB4008"):
        await broker.place_order(buy("T" * 21))
    assert fake.book.orders == {}


async def test_failed_reads_are_unavailable_not_order_verdicts(broker: AngelOneBroker,
                                                               fake: AngelFake) -> None:
    fake.book.arm(Fault("error_5xx", group="read"))
    with pytest.raises(BrokerUnavailable):
        await broker.find_by_tag("ANY")
    fake.book.arm(Fault("reject", group="read", code="AB2001", message="internal"))
    with pytest.raises(BrokerUnavailable):
        await broker.get_orders()


async def test_a_refused_connection_is_not_sent(fake: AngelFake) -> None:
    fake.api_url = f"http://127.0.0.1:{pick_port(0)}"  # nothing listens there
    account = broker_for(fake, credentials(fake, session=session_at(fake)))
    try:
        with pytest.raises(NotSent):
            await account.place_order(buy("NS1"))
        with pytest.raises(BrokerUnavailable):
            await account.get_orders()
    finally:
        await account.close()


async def test_no_secret_reaches_an_error_message(fake: AngelFake) -> None:
    account = broker_for(fake, credentials(fake, session=session_at(fake)))
    fake.book.arm(Fault("token_expired", group="any"))
    try:
        with pytest.raises(TokenExpired) as caught:
            await account.get_orders()
    finally:
        await account.close()
    text = str(caught.value) + json.dumps(caught.value.response)
    for secret in (fake.book.pin, fake.book.totp_secret, *fake.book.jwts):
        assert secret not in text
