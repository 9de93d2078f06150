"""The Fyers adapter's REST side against the fake Fyers: the auth-code login, orders by id
and by tag, positions, LTP, and every class of failure mapped to what the executor may do
next."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from brokers.base import BrokerOrderStatus, OrderRequest, Side
from brokers.errors import (
    Ambiguous,
    BrokerUnavailable,
    NotSent,
    OrderRejected,
    TokenExpired,
)
from brokers.fyers import FyersBroker, FyersCredentials
from brokers.fyers.auth import app_id_hash, claims, hsm_key, login_url, token_expiry
from brokers.fyers.http import FyersHttp
from core.clock import IST
from core.embedded.process import pick_port
from core.ids import new_id
from tests.adapter_kit import buy
from tests.fakes.fyers import Fault, FyersFake, running_fake
from tests.fyers_kit import broker_for, logged_in


@pytest.fixture
async def fake() -> AsyncIterator[FyersFake]:
    """A running fake Fyers."""
    async with running_fake() as server:
        yield server


@pytest.fixture
async def broker(fake: FyersFake) -> AsyncIterator[FyersBroker]:
    """A Fyers account logged in to the fake."""
    account = broker_for(fake)
    await account.connect()
    yield account
    await account.close()


# ---- login ---------------------------------------------------------------------------------


async def test_login_exchanges_the_auth_code_with_the_app_id_hash(fake: FyersFake) -> None:
    http = FyersHttp(fake.api_url, fake.book.app_id)
    code = fake.book.issue_auth_code()
    now = datetime.now(UTC)
    try:
        session = await http.login(code, fake.book.secret, now=now)
        with pytest.raises(TokenExpired):  # an auth code is single use
            await http.login(code, fake.book.secret, now=now)
        with pytest.raises(TokenExpired):  # a wrong secret makes a wrong appIdHash
            await http.login(fake.book.issue_auth_code(), "wrong", now=now)
    finally:
        await http.close()
    assert session.access_token in fake.book.access_tokens
    assert session.refresh_token
    assert hsm_key(session.access_token) == fake.book.access_tokens[session.access_token]
    assert session.expires_at == datetime.fromtimestamp(claims(session.access_token)["exp"],
                                                        UTC)
    sent = fake.book.requests[0]
    assert (sent.method, sent.path) == ("POST", "/api/v3/validate-authcode")
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["version"] == "3"
    assert "authorization" not in sent.headers
    expected = hashlib.sha256(f"{fake.book.app_id}:{fake.book.secret}".encode()).hexdigest()
    assert sent.body == {"grant_type": "authorization_code", "appIdHash": expected,
                         "code": code}
    assert app_id_hash(fake.book.app_id, fake.book.secret) == expected


def test_the_login_page_and_token_expiry() -> None:
    url = login_url("https://api-t1.fyers.in", "ABC-100", "https://x.test/cb", "s1")
    assert url == ("https://api-t1.fyers.in/api/v3/generate-authcode?client_id=ABC-100"
                   "&redirect_uri=https%3A%2F%2Fx.test%2Fcb&response_type=code&state=s1")
    # A token without a readable exp dies at 06:00 IST after its issue.
    evening = datetime(2026, 11, 25, 20, 15, tzinfo=IST)
    assert token_expiry("not-a-jwt", evening) == datetime(2026, 11, 26, 6, 0, tzinfo=IST)
    dawn = datetime(2026, 11, 25, 5, 0, tzinfo=IST)
    assert token_expiry("a.b.c", dawn) == datetime(2026, 11, 25, 6, 0, tzinfo=IST)


async def test_validate_reads_the_profile_with_app_id_and_token(broker: FyersBroker,
                                                                fake: FyersFake) -> None:
    info = await broker.validate()
    assert info.account_id == fake.book.fy_id
    sent = fake.book.requests[-1]
    assert (sent.method, sent.path) == ("GET", "/api/v3/profile")
    assert sent.headers["authorization"] == f"{fake.book.app_id}:{broker.http.access_token}"
    assert sent.headers["version"] == "3"


# ---- orders ---------------------------------------------------------------------------------


def test_the_tag_is_our_order_id_within_fyers_limits() -> None:
    order_id = new_id("ord")
    tag = FyersBroker.tag_for(order_id)
    assert tag == order_id.replace("_", "")
    assert len(tag) == 29
    assert tag.isalnum()
    assert FyersBroker.tag_for(order_id) == tag  # deterministic


async def test_a_market_order_is_placed_as_fyers_json_and_found_by_tag(
        broker: FyersBroker, fake: FyersFake) -> None:
    tag = FyersBroker.tag_for(new_id("ord"))
    placed = await broker.place_order(buy(tag))
    assert placed.status is BrokerOrderStatus.OPEN
    assert placed.client_tag == tag
    sent = fake.book.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/api/v3/orders/sync")
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == {"symbol": "NSE:RELIANCE-EQ", "qty": 2, "type": 2, "side": 1,
                         "productType": "INTRADAY", "limitPrice": 0, "stopPrice": 0,
                         "validity": "DAY", "disclosedQty": 0, "offlineOrder": False,
                         "stopLoss": 0, "takeProfit": 0, "orderTag": tag,
                         "isSliceOrder": False}

    order = await broker.get_order(placed.broker_order_id)
    assert fake.book.requests[-1].query == [("id", placed.broker_order_id)]
    assert order.status is BrokerOrderStatus.COMPLETE
    assert (order.filled_quantity, str(order.average_price)) == (2, "2500.75")
    found = await broker.find_by_tag(tag)
    assert fake.book.requests[-1].query == [("order_tag", f"1:{tag}")]
    assert found is not None
    assert found.broker_order_id == placed.broker_order_id
    assert await broker.find_by_tag("NOSUCHTAG") is None
    assert [o.broker_order_id for o in await broker.get_orders()] == [placed.broker_order_id]

    sell = OrderRequest(client_tag="SELL1", exchange="NSE", symbol="RELIANCE",
                        side=Side.SELL, quantity=1)
    await broker.place_order(sell)
    assert fake.book.requests[-1].body["side"] == -1
    [position] = await broker.get_positions()
    assert (position.exchange, position.symbol, position.quantity) == ("NSE", "RELIANCE", 1)
    assert (str(position.buy_value), str(position.sell_value)) == ("5001.5", "2500.75")


async def test_an_order_held_pending_reads_open_until_traded(broker: FyersBroker,
                                                             fake: FyersFake) -> None:
    fake.book.hold_orders = True
    placed = await broker.place_order(buy("HELD1"))
    assert (await broker.get_order(placed.broker_order_id)).status is BrokerOrderStatus.OPEN
    fake.book.fill(placed.broker_order_id)
    assert (await broker.get_order(placed.broker_order_id)).status is \
        BrokerOrderStatus.COMPLETE


async def test_ltp_is_in_paise(broker: FyersBroker, fake: FyersFake) -> None:
    assert await broker.get_ltp("NSE", "RELIANCE") == 250_075
    assert fake.book.requests[-1].path == "/data/quotes"
    assert fake.book.requests[-1].query == [("symbols", "NSE:RELIANCE-EQ")]
    with pytest.raises(BrokerUnavailable, match="no price"):
        await broker.get_ltp("NSE", "NOSUCH")


async def test_the_symbol_master_names_other_series(broker: FyersBroker,
                                                    fake: FyersFake) -> None:
    await broker.ensure_instruments()
    fake.book.prices["NSE:CENTRALBK-BE"] = fake.book.prices["NSE:SBIN-EQ"]
    assert await broker.get_ltp("NSE", "CENTRALBK-BE") == 47_000
    await broker.place_order(buy("BE1", symbol="CENTRALBK-BE"))
    assert fake.book.requests[-1].body["symbol"] == "NSE:CENTRALBK-BE"


# ---- failures -------------------------------------------------------------------------------


# The fake kit's own rejection, 5xx, rate limit and dead token: tests/test_broker_contract.py.
@pytest.mark.parametrize(("fault", "error"), [
    (Fault("reject", code=-50, message="Invalid input"), OrderRejected),
    (Fault("reject", status=403, code=-352, message="Invalid app id"), OrderRejected),
    (Fault("error_5xx", status=500), Ambiguous),
])
async def test_fyers_errors_on_an_order_map_to_our_classes(
        broker: FyersBroker, fake: FyersFake, fault: Fault, error: type[Exception]) -> None:
    fake.book.arm(fault)
    with pytest.raises(error):
        await broker.place_order(buy("ERR1"))
    assert fake.book.orders == {}  # none of these booked anything


async def test_an_order_fyers_itself_refuses_is_rejected(broker: FyersBroker,
                                                         fake: FyersFake) -> None:
    with pytest.raises(OrderRejected, match="-300"):
        await broker.place_order(buy("BAD1", symbol="NOSUCH"))
    with pytest.raises(OrderRejected, match="orderTag"):
        await broker.place_order(buy("not-alnum"))
    assert fake.book.orders == {}


async def test_an_rms_rejection_is_an_accepted_order_that_reads_rejected(
        broker: FyersBroker, fake: FyersFake) -> None:
    fake.book.arm(Fault("rms_reject", message="RMS:Margin Shortfall"))
    placed = await broker.place_order(buy("RMS1"))
    order = await broker.get_order(placed.broker_order_id)
    assert order.status is BrokerOrderStatus.REJECTED
    assert order.message == "RMS:Margin Shortfall"


async def test_failed_reads_are_unavailable_not_order_verdicts(broker: FyersBroker,
                                                               fake: FyersFake) -> None:
    fake.book.arm(Fault("error_5xx", group="read", status=503))
    with pytest.raises(BrokerUnavailable):
        await broker.find_by_tag("ANY")
    fake.book.arm(Fault("reject", group="read", code=-50))
    with pytest.raises(BrokerUnavailable):
        await broker.get_orders()
    with pytest.raises(BrokerUnavailable):
        await broker.get_order("999")  # unknown id: -51 at Fyers, never "absent"


# accept_then_timeout: tests/test_broker_contract.py, as for every broker.
@pytest.mark.parametrize("kind", ["book_then_5xx", "no_ack"])
async def test_an_order_booked_without_an_answer_is_ambiguous_and_found_by_tag(
        broker: FyersBroker, fake: FyersFake, kind: str) -> None:
    fake.book.arm(Fault(kind, hang_s=5.0))
    with pytest.raises(Ambiguous):
        await broker.place_order(buy("AMBIG1"))
    assert len(fake.book.orders) == 1  # the order exists although we never heard so
    found = await broker.find_by_tag("AMBIG1")
    assert found is not None
    assert found.status is BrokerOrderStatus.COMPLETE
    assert found.broker_order_id == next(iter(fake.book.orders))


async def test_a_refused_connection_is_not_sent(fake: FyersFake) -> None:
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
        fake: FyersFake) -> None:
    expired = FyersCredentials(app_id=fake.book.app_id, access_token="old",
                               expires_at=datetime.now(UTC) - timedelta(minutes=1))
    reloads: list[FyersCredentials] = []
    fresh = logged_in(fake)

    async def reload() -> FyersCredentials:
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


async def test_a_token_fyers_refuses_rereads_the_credential_before_the_next_call(
        fake: FyersFake) -> None:
    fresh = logged_in(fake)

    async def reload() -> FyersCredentials:
        return fresh

    account = broker_for(fake, logged_in(fake, token="revoked"), reload=reload)
    try:
        with pytest.raises(TokenExpired):
            await account.get_orders()
        assert await account.get_orders() == []
    finally:
        await account.close()
