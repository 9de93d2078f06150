"""The fake SmartAPI is checked by Angel's own SDK (smartapi-python): its login, order, book,
positions and LTP calls, and its own SmartWebSocket v2 client and tick parser, all against
the fake. A fake the SDK does not accept is not wire-faithful. The adapter never imports
the SDK.

The SDK lives in its own venv and runs as `tests/sdk/angel_client.py` (tests/sdk/), which
works around its quirks (brokers PROTOCOLS notes §6: a public-IP lookup at import, a
`logs/` folder in the working directory, class-attribute URLs); the fake serves here, and
the script reports what the SDK got back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.angel import AngelFake, Quote, running_fake
from tests.fakes.angel.packets import SNAP_QUOTE, frame
from tests.sdk_runner import run_sdk_client, sdk_client
from tests.stubs import eventually

SCRIPT = "angel_client.py"


@pytest.fixture
async def fake() -> AsyncIterator[AngelFake]:
    """A running fake SmartAPI."""
    async with running_fake() as server:
        yield server


def args(fake: AngelFake, tmp_path: Path, **more: Any) -> str:
    """The fake's URLs and the account's credentials; the SDK's working folder."""
    book = fake.book
    return json.dumps({"api_url": fake.api_url, "ws_url": fake.ws_url,
                       "api_key": book.api_key, "client_code": book.client_code,
                       "pin": book.pin, "totp_secret": book.totp_secret,
                       "workdir": str(tmp_path), **more})


async def test_the_sdk_logs_in_and_reads_the_profile(fake: AngelFake, tmp_path: Path) -> None:
    got = await run_sdk_client(SCRIPT, "login", args(fake, tmp_path))
    data = got["session"]
    assert data["status"] is True
    assert data["data"]["clientcode"] == fake.book.client_code
    assert data["data"]["jwtToken"].startswith("Bearer ")
    assert got["feed_token"] in fake.book.feed_tokens
    assert got["renewed"]["data"]["jwtToken"] in fake.book.jwts
    assert got["wrong"]["status"] is False
    assert got["wrong"]["errorcode"] == "AB1007"
    assert not (tmp_path / "logs").exists() or not list((tmp_path / "logs").rglob("*.log"))


async def test_the_sdk_places_an_order_and_reads_book_positions_and_ltp(
        fake: AngelFake, tmp_path: Path) -> None:
    got = await run_sdk_client(SCRIPT, "orders", args(fake, tmp_path))
    order_id = got["order_id"]
    assert order_id in fake.book.orders
    full = got["full"]
    assert full["data"]["orderid"] in fake.book.orders
    assert full["data"]["uniqueorderid"]
    assert [(o["orderid"], o["ordertag"], o["status"]) for o in got["book"]["data"]] == [
        (order_id, "SDKTAG1", "complete"), (full["data"]["orderid"], "SDKTAG1", "complete")]
    assert got["details"]["data"]["orderid"] == full["data"]["orderid"]
    assert [(p["tradingsymbol"], p["netqty"]) for p in got["positions"]["data"]] == [
        ("SBIN-EQ", "8")]
    assert got["ltp"]["data"]["ltp"] == 470.0
    assert got["bad_tag"] is None  # AB4008
    assert len(fake.book.orders) == 2


async def test_the_sdk_websocket_subscribes_and_parses_the_fakes_ticks(
        fake: AngelFake, tmp_path: Path) -> None:
    async with sdk_client(SCRIPT, "socket", args(fake, tmp_path, mode=SNAP_QUOTE)) as client:
        assert await client.receive() == {"subscribed": True}
        await eventually(lambda: fake.feed.subscribed((1, "2885")), timeout=10,
                         message="the SDK subscribed")
        assert fake.feed.subscribers[0].modes[(1, "2885")] == SNAP_QUOTE
        await fake.feed.push(Quote(1, "2885", 250_075, exchange_ts_ms=1_790_000_000_000))
        got = await client.receive()
    assert got["closed"]
    tick = got["ticks"][0]
    assert tick["subscription_mode"] == SNAP_QUOTE
    assert tick["token"] == "2885"
    assert tick["last_traded_price"] == 250_075
    assert tick["exchange_timestamp"] == 1_790_000_000_000
    assert tick["closed_price"] == 250_075
    assert len(tick["best_5_buy_data"]) == len(tick["best_5_sell_data"]) == 5
    assert len(frame(Quote(1, "2885", 1), SNAP_QUOTE)) == 379
