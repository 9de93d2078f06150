"""Zerodha's own SDK (`kiteconnect`) against the fake Kite: a fake the official client does
not accept is not wire-faithful (issue: real brokers).

The SDK lives in its own venv and runs as `tests/sdk/zerodha_client.py` (tests/sdk/): the
fake serves here, the script makes the SDK's calls and reports what it got back. Its
KiteTicker runs for real on twisted's reactor in the script's process (a reactor starts
once per process: the script is that process); its binary parser
(`KiteTicker._parse_binary`) is also fed the fake's frames directly. Our adapter never
imports the SDK.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from tests.fakes.kite import Fault, KiteFake, Quote, running_fake
from tests.fakes.kite.packets import MALFORMED, frame, packet
from tests.sdk_runner import run_sdk_client, sdk_client
from tests.stubs import eventually

SCRIPT = "zerodha_client.py"
RELIANCE = 738_561
INFY = 408_065


@pytest.fixture
async def fake() -> AsyncIterator[KiteFake]:
    """A running fake Kite."""
    async with running_fake() as server:
        yield server


def login_args(fake: KiteFake) -> str:
    """What the script needs for `generate_session`: a fresh request token."""
    return json.dumps({"api_url": fake.api_url, "api_key": fake.book.api_key,
                       "api_secret": fake.book.api_secret,
                       "request_token": fake.book.issue_request_token()})


def check_session(fake: KiteFake, session: dict[str, Any]) -> None:
    """The session `generate_session` returned is the fake's."""
    assert session["access_token"] in fake.book.access_tokens
    assert session["user_id"] == fake.book.user_id
    assert session["login_time_parsed"]  # the SDK parsed our timestamp into a datetime


async def test_the_sdk_logs_in_orders_and_reads_the_book_positions_and_ltp(
        fake: KiteFake) -> None:
    got = await run_sdk_client(SCRIPT, "rest", login_args(fake))
    check_session(fake, got["session"])
    assert got["profile_user_id"] == fake.book.user_id
    order_id = got["order_id"]
    assert order_id in fake.book.orders
    [sent] = [r for r in fake.book.requests if r.method == "POST" and r.path.startswith(
        "/orders/")]
    assert sent.headers["User-Agent"].startswith("Kiteconnect-python/")
    assert sent.headers["X-Kite-Version"] == "3"
    assert sent.form["tag"] == "sdk1"

    assert got["orders"] == [{"order_id": order_id, "tag": "sdk1", "status": "COMPLETE",
                              "timestamp_parsed": True}]
    assert got["history_statuses"][-1] == "COMPLETE"
    assert got["net"] == [["RELIANCE", 2]]
    assert got["day_buy_values"][0] == pytest.approx(5001.5)
    assert got["ltp"] == {"NSE:RELIANCE": {"instrument_token": RELIANCE, "last_price": 2500.75},
                          "NSE:INFY": {"instrument_token": INFY, "last_price": 1074.35}}
    assert ["RELIANCE", RELIANCE] in got["instruments"]


async def test_the_sdk_raises_its_own_exceptions_for_the_fakes_errors(fake: KiteFake) -> None:
    fake.book.arm(Fault("reject", error_type="MarginException", message="Insufficient funds"))
    fake.book.arm(Fault("reject", error_type="OrderException", message="RMS:Rule"))
    fake.book.arm(Fault("error_5xx", status=503, error_type="NetworkException"))
    fake.book.arm(Fault("rate_limit"))
    async with sdk_client(SCRIPT, "errors", login_args(fake)) as client:
        assert await client.receive() == {"ready": "token_expired"}
        fake.book.arm(Fault("token_expired", group="any"))
        await client.send()
        got = await client.receive()
    margin, order, network, limited = got["placed"]
    # The SDK has no MarginException class: an error_type it lacks is a GeneralException.
    assert (margin["class"], margin["message"], margin["code"]) == (
        "GeneralException", "Insufficient funds", 400)
    assert (order["class"], order["message"]) == ("OrderException", "RMS:Rule")
    assert network["class"] == "NetworkException"
    assert (limited["class"], limited["message"]) == ("NetworkException",
                                                      "Too many requests")
    assert got["unprotected"]["class"] == "InputException"
    assert "market protection" in got["unprotected"]["message"]
    assert got["orders"]["class"] == "TokenException"
    assert got["expiry_hook_calls"] == 1  # the SDK's own 403 + TokenException hook fired
    assert fake.book.orders == {}


async def test_the_sdk_parser_reads_the_fakes_frames_in_every_mode() -> None:
    quote = Quote(RELIANCE, 250_075, last_qty=5, avg_price=250_010, volume=12_345,
                  buy_qty=100, sell_qty=200, open=249_000, high=251_000, low=248_500,
                  close=249_500, last_trade_ts=1_790_000_000, exchange_ts=1_790_000_001)
    frames = {"modes": frame([packet(quote, m) for m in ("ltp", "quote", "full")]).hex(),
              "malformed": MALFORMED.hex()}
    got = await run_sdk_client(SCRIPT, "parse", json.dumps({"frames": frames}))
    ltp, quoted, full = got["modes"]
    assert (ltp["mode"], ltp["instrument_token"], ltp["last_price"]) == ("ltp", RELIANCE,
                                                                          2500.75)
    assert quoted["mode"] == "quote"
    assert (quoted["last_traded_quantity"], quoted["average_traded_price"],
            quoted["volume_traded"]) == (5, 2500.10, 12_345)
    assert quoted["ohlc"] == {"open": 2490.0, "high": 2510.0, "low": 2485.0, "close": 2495.0}
    assert quoted["change"] == pytest.approx((2500.75 - 2495.0) * 100 / 2495.0)
    assert full["mode"] == "full"
    # The SDK's naive local datetimes, as str() wrote them (same time zone both sides).
    assert full["exchange_timestamp"] == str(datetime.fromtimestamp(1_790_000_001))
    assert full["last_trade_time"] == str(datetime.fromtimestamp(1_790_000_000))
    assert len(full["depth"]["buy"]) == len(full["depth"]["sell"]) == 5
    assert full["depth"]["buy"][0] == {"quantity": 10, "price": 2500.50, "orders": 1}
    assert got["malformed"] == []  # a packet of no known length: skipped


async def test_the_sdk_ticker_streams_from_the_fake_and_reconnects(fake: KiteFake) -> None:
    """KiteTicker on its twisted reactor: handshake, subscribe + mode, ticks, a heartbeat
    and a malformed frame shrugged off, then a drop, its own reconnect and resubscribe."""
    args = {"api_key": fake.book.api_key, "access_token": fake.book.issue_access_token(),
            "ws_url": fake.ws_url, "instrument_token": RELIANCE}
    async with sdk_client(SCRIPT, "ticker", json.dumps(args)) as client:
        await eventually(lambda: any(s.modes.get(RELIANCE) == "full"
                                     for s in fake.ticker.subscribers),
                         timeout=20, message="the SDK subscribed in full mode")
        assert fake.ticker.handshakes[-1]["x-kite-version"] == "3"
        await fake.ticker.heartbeat()
        fake.ticker.malformed_next = 1
        await fake.ticker.push(Quote(RELIANCE, 250_000))  # goes out as MALFORMED
        await fake.ticker.push(Quote(RELIANCE, 250_100, exchange_ts=1_790_000_000))
        await client.send({"await": 2501.0})
        ticks = (await client.receive())["ticks"]
        assert {t["instrument_token"] for t in ticks} == {RELIANCE}
        assert [t["mode"] for t in ticks] == ["full"]  # the malformed one was skipped

        fake.ticker.drop_all()
        await eventually(lambda: fake.ticker.accepted >= 2, timeout=15,
                         message="the SDK reconnected")
        await eventually(lambda: fake.ticker.subscribed(RELIANCE), timeout=10,
                         message="the SDK resubscribed")
        await fake.ticker.push(Quote(RELIANCE, 249_000))
        await client.send({"await": 2490.0})
        await client.receive()
        await client.send({"stop": True})
        final = await client.receive()
    assert [t["last_price"] for t in final["ticks"]] == [2501.0, 2490.0]
