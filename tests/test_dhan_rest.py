"""The Dhan adapter's REST side against the fake Dhan: the three logins, orders by id and by
correlationId, positions, LTP, and every class of failure mapped to what the executor may
do next."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from brokers.base import BrokerOrderStatus
from brokers.dhan import DhanBroker, DhanCredentials
from brokers.dhan.auth import DhanAuth, DhanSession, parse_expiry
from brokers.dhan.instruments import DhanInstruments
from brokers.errors import (
    Ambiguous,
    BrokerUnavailable,
    NotSent,
    OrderRejected,
    RateLimited,
    TokenExpired,
)
from core.clock import IST, RealClock
from core.embedded.process import pick_port
from core.ids import new_id
from tests.adapter_kit import buy
from tests.dhan_kit import broker_for, config_for, logged_in
from tests.fakes.dhan import DhanFake, Fault, running_fake


@pytest.fixture
async def fake() -> AsyncIterator[DhanFake]:
    """A running fake Dhan."""
    async with running_fake() as server:
        yield server


@pytest.fixture
async def broker(fake: DhanFake) -> AsyncIterator[DhanBroker]:
    """A Dhan account logged in to the fake."""
    account = broker_for(fake)
    await account.connect()
    yield account
    await account.close()


def placements(fake: DhanFake) -> list[dict[str, object]]:
    """The bodies of every POST /v2/orders the fake received."""
    return [r.body for r in fake.book.requests if r.path == "/v2/orders"
            and r.method == "POST"]


# ---- login ---------------------------------------------------------------------------------


async def test_pin_and_totp_give_a_token_valid_24_hours(fake: DhanFake) -> None:
    auth = DhanAuth(fake.auth_url)
    try:
        answer = await auth.pin_totp(fake.book.client_id, fake.book.pin, fake.book.totp)
        with pytest.raises(TokenExpired):
            await auth.pin_totp(fake.book.client_id, fake.book.pin, "000000")
    finally:
        await auth.close()
    session = DhanSession.of(answer, datetime.now(UTC))
    assert session.access_token in fake.book.access_tokens
    assert session.client_id == fake.book.client_id
    hours = (session.expires_at - datetime.now(UTC)) / timedelta(hours=1)
    assert 23.9 < hours <= 24.0
    sent = fake.book.requests[0]
    assert (sent.method, sent.path, sent.body) == ("POST", "/app/generateAccessToken", None)
    assert sent.query == {"dhanClientId": fake.book.client_id, "pin": fake.book.pin,
                          "totp": fake.book.totp}


async def test_the_api_key_consent_flow_takes_three_steps(fake: DhanFake) -> None:
    book = fake.book
    auth = DhanAuth(fake.auth_url)
    try:
        consent = await auth.generate_consent(book.client_id, book.app_id, book.app_secret)
        assert consent.consent_app_status == "GENERATED"
        # Step b is the user's browser: Dhan redirects it to us with a tokenId.
        async with httpx.AsyncClient() as browser:
            landing = await browser.get(auth.consent_login_url(consent.consent_app_id))
        assert landing.status_code == 302
        token_id = parse_qs(urlsplit(landing.headers["location"]).query)["tokenId"][0]
        with pytest.raises(TokenExpired):  # the app secret is checked
            await auth.consume_consent(token_id, book.app_id, "wrong")
        session = await auth.consume_consent(token_id, book.app_id, book.app_secret)
        with pytest.raises(TokenExpired):  # a tokenId is single use
            await auth.consume_consent(token_id, book.app_id, book.app_secret)
    finally:
        await auth.close()
    assert session.access_token in book.access_tokens
    consume = next(r for r in book.requests if r.path == "/app/consumeApp-consent")
    assert consume.method == "GET"
    assert (consume.headers["app_id"], consume.headers["app_secret"]) == (book.app_id, "wrong")


def test_expiry_times_are_ist() -> None:
    issued = datetime(2026, 11, 25, 8, 0, tzinfo=IST)
    assert parse_expiry("2026-11-26T08:00:05", issued) == datetime(2026, 11, 26, 8, 0, 5,
                                                                   tzinfo=IST)
    assert parse_expiry("30/11/2026 09:15", issued) == datetime(2026, 11, 30, 9, 15,
                                                                tzinfo=IST)
    assert parse_expiry(None, issued) == issued + timedelta(hours=24)
    assert parse_expiry("soon", issued) == issued + timedelta(hours=24)


async def test_validate_reads_the_profile_with_the_session_headers(
        broker: DhanBroker, fake: DhanFake) -> None:
    info = await broker.validate()
    assert info.account_id == fake.book.client_id
    headers = fake.book.requests[-1].headers
    assert headers["access-token"] in fake.book.access_tokens
    assert headers["client-id"] == fake.book.client_id


async def test_renew_token_gives_a_new_session(broker: DhanBroker, fake: DhanFake) -> None:
    renewed = await broker.http.renew_token()
    assert renewed.access_token in fake.book.access_tokens
    assert fake.book.requests[-1].headers["dhanclientid"] == fake.book.client_id


# ---- orders ---------------------------------------------------------------------------------


def test_the_tag_is_our_whole_order_id() -> None:
    order_id = new_id("ord")
    assert len(order_id) == 30
    assert DhanBroker.tag_for(order_id) == order_id
    assert DhanBroker.tag_for("ord_ab.cd/" + "x" * 40) == "x" * 30  # last 30 allowed chars


async def test_a_market_order_is_sent_as_dhan_json_and_found_by_correlation_id(
        broker: DhanBroker, fake: DhanFake) -> None:
    tag = DhanBroker.tag_for(new_id("ord"))
    placed = await broker.place_order(buy(tag))
    assert placed.client_tag == tag
    assert placed.status is BrokerOrderStatus.OPEN  # TRANSIT
    (body,) = placements(fake)
    assert body == {"dhanClientId": fake.book.client_id, "correlationId": tag,
                    "transactionType": "BUY", "exchangeSegment": "NSE_EQ",
                    "productType": "INTRADAY", "securityId": "2885", "quantity": 2,
                    "orderType": "MARKET", "validity": "DAY", "price": 0.0,
                    "triggerPrice": 0.0, "disclosedQuantity": 0, "afterMarketOrder": False}
    sent = next(r for r in fake.book.requests if r.path == "/v2/orders")
    assert sent.headers["content-type"] == "application/json"

    order = await broker.get_order(placed.broker_order_id)
    assert order.status is BrokerOrderStatus.COMPLETE
    assert (order.filled_quantity, str(order.average_price)) == (2, "2500.75")
    found = await broker.find_by_tag(tag)
    assert found is not None and found.broker_order_id == placed.broker_order_id
    assert fake.book.requests[-1].path == f"/v2/orders/external/{tag}"  # one call
    assert await broker.find_by_tag("NOSUCHTAG") is None
    assert fake.book.requests[-1].path == "/v2/orders"  # absence proven by the book
    assert [o.broker_order_id for o in await broker.get_orders()] == [placed.broker_order_id]

    positions = await broker.get_positions()
    assert [(p.exchange, p.symbol, p.quantity) for p in positions] == [("NSE", "RELIANCE", 2)]
    assert str(positions[0].buy_value) == "5001.5"


async def test_an_order_held_pending_reads_open_until_traded(broker: DhanBroker,
                                                              fake: DhanFake) -> None:
    fake.book.hold_orders = True
    placed = await broker.place_order(buy("HELD1"))
    assert (await broker.get_order(placed.broker_order_id)).status is BrokerOrderStatus.OPEN
    fake.book.fill(placed.broker_order_id)
    assert (await broker.get_order(placed.broker_order_id)).status is \
        BrokerOrderStatus.COMPLETE


async def test_ltp_is_in_paise(broker: DhanBroker, fake: DhanFake) -> None:
    assert await broker.get_ltp("NSE", "RELIANCE") == 250_075
    sent = fake.book.requests[-1]
    assert (sent.path, sent.body) == ("/v2/marketfeed/ltp", {"NSE_EQ": [2885]})
    with pytest.raises(BrokerUnavailable, match="no price"):
        await broker.get_ltp("NSE", "HDFCBANK")  # listed, but no trade yet
    with pytest.raises(BrokerUnavailable, match="scrip master"):
        await broker.get_ltp("NSE", "NOSUCH")


async def test_an_unlisted_symbol_is_rejected_without_sending(broker: DhanBroker,
                                                              fake: DhanFake) -> None:
    with pytest.raises(OrderRejected, match="scrip master"):
        await broker.place_order(buy("UNLISTED", symbol="NOSUCH"))
    assert placements(fake) == []


async def test_no_scrip_master_means_not_sent(fake: DhanFake) -> None:
    fake.book.scrip_csv = "not,a,master\n"
    account = broker_for(fake)
    try:
        with pytest.raises(NotSent):
            await account.place_order(buy("NOMASTER"))
    finally:
        await account.close()
    assert placements(fake) == []


# ---- failures -------------------------------------------------------------------------------


# The fake kit's own rejection, 5xx, rate limit and dead token: tests/test_broker_contract.py.
@pytest.mark.parametrize(("fault", "error"), [
    (Fault("reject", code="DH-905", error_type="Input_Exception", message="Bad input"),
     OrderRejected),
    (Fault("reject", code="DH-903", error_type="User_Account", message="Segment off"),
     OrderRejected),
    (Fault("reject", status=500, code="DH-910", error_type="Others", message="?"), Ambiguous),
    (Fault("invalid_token"), TokenExpired),
    (Fault("error_5xx", status=503), Ambiguous),
])
async def test_dhan_errors_on_an_order_map_to_our_classes(
        broker: DhanBroker, fake: DhanFake, fault: Fault, error: type[Exception]) -> None:
    fake.book.arm(fault)
    with pytest.raises(error):
        await broker.place_order(buy("ERR1"))
    assert fake.book.orders == {}  # none of these booked anything


async def test_rate_limited_is_not_sent_and_carries_retry_after(broker: DhanBroker,
                                                                fake: DhanFake) -> None:
    fake.book.arm(Fault("rate_limit"))
    with pytest.raises(RateLimited) as caught:
        await broker.place_order(buy("RL1"))
    assert isinstance(caught.value, NotSent)
    assert caught.value.retry_after_s == 1.0
    assert caught.value.response is not None
    assert caught.value.response["error_code"] == "DH-904"


async def test_an_rms_rejection_is_an_accepted_order_that_reads_rejected(
        broker: DhanBroker, fake: DhanFake) -> None:
    fake.book.arm(Fault("rms_reject", message="RMS:Margin Exceeds for the order"))
    placed = await broker.place_order(buy("RMS1"))
    order = await broker.get_order(placed.broker_order_id)
    assert order.status is BrokerOrderStatus.REJECTED
    assert order.message == "RMS:Margin Exceeds for the order"


async def test_failed_reads_are_unavailable_not_order_verdicts(broker: DhanBroker,
                                                               fake: DhanFake) -> None:
    fake.book.arm(Fault("error_5xx", group="read", count=2))
    with pytest.raises(BrokerUnavailable):
        await broker.find_by_tag("ANY")  # the external lookup, then the book: both fail
    fake.book.arm(Fault("reject", group="read", code="DH-905"))
    with pytest.raises(BrokerUnavailable):
        await broker.get_orders()
    with pytest.raises(BrokerUnavailable):
        await broker.get_order("999")  # unknown id: an error at Dhan, never "absent"


async def test_booked_then_5xx_is_ambiguous_too(broker: DhanBroker, fake: DhanFake) -> None:
    fake.book.arm(Fault("book_then_5xx"))
    with pytest.raises(Ambiguous, match="DH-909"):
        await broker.place_order(buy("B5XX"))
    assert (await broker.find_by_tag("B5XX")) is not None


async def test_a_refused_connection_is_not_sent(fake: DhanFake) -> None:
    dead = replace(config_for(fake), api_url=f"http://127.0.0.1:{pick_port(0)}/v2")
    clock = RealClock()  # nothing listens at api_url; the master still downloads
    account = DhanBroker("dhan:brk_dead", logged_in(fake), dead, DhanInstruments(clock), clock)
    try:
        with pytest.raises(NotSent):
            await account.place_order(buy("NS1"))
        with pytest.raises(BrokerUnavailable):
            await account.get_orders()
    finally:
        await account.close()


async def test_a_dead_session_is_refused_before_sending_and_a_new_login_is_picked_up(
        fake: DhanFake) -> None:
    expired = DhanCredentials(client_id=fake.book.client_id, access_token="old",
                              expires_at=datetime.now(UTC) - timedelta(minutes=1))
    reloads: list[DhanCredentials] = []
    fresh = logged_in(fake)

    async def reload() -> DhanCredentials:
        # First the user has not logged in again; then they have.
        reloads.append(expired if not reloads else fresh)
        return reloads[-1]

    account = broker_for(fake, expired, reload=reload)
    try:
        with pytest.raises(TokenExpired):
            await account.place_order(buy("TOK1"))
        assert placements(fake) == []  # never sent with a token known to be dead
        assert (await account.place_order(buy("TOK2"))).client_tag == "TOK2"
    finally:
        await account.close()


async def test_an_invalidated_token_rereads_the_credential_before_the_next_call(
        fake: DhanFake) -> None:
    fresh = logged_in(fake)

    async def reload() -> DhanCredentials:
        return fresh

    account = broker_for(fake, logged_in(fake, token="revoked"), reload=reload)
    try:
        with pytest.raises(TokenExpired):
            await account.get_orders()
        assert await account.get_orders() == []
    finally:
        await account.close()


async def test_the_data_api_refusal_is_token_expired(fake: DhanFake) -> None:
    account = broker_for(fake, logged_in(fake, token="revoked"))
    try:
        with pytest.raises(TokenExpired, match="808"):
            await account.get_ltp("NSE", "RELIANCE")
    finally:
        await account.close()
    assert json.loads(json.dumps(fake.book.requests[-1].body)) == {"NSE_EQ": [2885]}
