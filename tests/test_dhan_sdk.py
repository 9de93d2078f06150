"""SDK conformance: Dhan's official Python SDK (`dhanhq`) against the fake Dhan.

A fake the official SDK does not accept is not wire-faithful. The SDK lives in its own venv
and runs as `tests/sdk/dhan_client.py` (tests/sdk/), which points the SDK's URL class
attributes at the fake; the fake serves here, and the script reports what the SDK got back.
Our adapter never imports the SDK.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.ids import new_id
from tests.fakes.dhan import DhanFake, running_fake
from tests.sdk_runner import run_sdk_client, sdk_client

SCRIPT = "dhan_client.py"


@pytest.fixture
async def fake() -> AsyncIterator[DhanFake]:
    """A running fake Dhan."""
    async with running_fake() as server:
        yield server


def args(fake: DhanFake, **more: Any) -> str:
    """The fake's URLs and the client id, for the script."""
    return json.dumps({"api_url": fake.api_url, "auth_url": fake.auth_url,
                       "ws_url": fake.ws_url, "client_id": fake.book.client_id, **more})


async def test_the_sdk_logs_in_all_three_ways(fake: DhanFake) -> None:
    book = fake.book
    login = args(fake, pin=book.pin, totp=book.totp, app_id=book.app_id,
                 app_secret=book.app_secret)
    async with sdk_client(SCRIPT, "login", login) as client:
        consent = (await client.receive())["consent"]
        await client.send({"token_id": book.approve(consent)})  # the user's browser login
        got = await client.receive()
    assert got["session"]["accessToken"] in book.access_tokens
    assert got["profile"]["dhanClientId"] == book.client_id
    assert got["renewed"]["accessToken"] in book.access_tokens
    assert got["consumed"]["accessToken"] in book.access_tokens
    assert got["consumed"]["dhanClientId"] == book.client_id


async def test_the_sdk_places_a_tagged_order_and_reads_the_books(fake: DhanFake) -> None:
    tag = new_id("ord")  # 30 characters: Dhan's correlationId limit
    orders = args(fake, access_token=fake.book.issue_access_token(), tag=tag)
    async with sdk_client(SCRIPT, "orders", orders) as client:
        assert await client.receive() == {"ready": "hold_orders"}
        fake.book.hold_orders = True
        await client.send()
        got = await client.receive()
    placed = got["placed"]
    assert placed["status"] == "success", placed
    order_id = placed["data"]["orderId"]
    sent = next(r for r in fake.book.requests
                if isinstance(r.body, dict) and r.body.get("securityId") == "2885")
    assert sent.body["dhanClientId"] == fake.book.client_id
    assert sent.body["correlationId"] == tag
    assert sent.headers["client-id"] == fake.book.client_id

    assert got["by_id"]["data"]["orderStatus"] == "TRADED"
    assert got["by_tag"]["data"]["orderId"] == order_id
    assert [o["orderId"] for o in got["book"]["data"]] == [order_id]
    assert [(p["securityId"], p["netQty"], p["positionType"])
            for p in got["positions"]["data"]] == [("2885", 3, "LONG")]
    assert got["ltp"]["status"] == "success"
    assert got["ltp"]["data"]["data"]["NSE_EQ"]["2885"]["last_price"] == 2500.75
    assert got["cancelled"]["data"]["orderStatus"] == "CANCELLED"


async def test_the_sdk_reads_dhan_errors(fake: DhanFake) -> None:
    got = await run_sdk_client(SCRIPT, "errors",
                               args(fake, access_token=fake.book.issue_access_token()))
    assert got["stranger"]["status"] == "failure"
    assert got["stranger"]["remarks"]["error_code"] == "DH-901"
    assert got["bad"]["remarks"] == {"error_code": "DH-905", "error_type": "Input_Exception",
                                     "error_message": "Invalid securityId"}


async def test_the_sdk_feed_subscribes_and_parses_the_fakes_packets(fake: DhanFake) -> None:
    feed = args(fake, access_token=fake.book.issue_access_token())
    async with sdk_client(SCRIPT, "feed", feed) as client:
        first = (await client.receive())["first"]
        assert fake.feed.subscribed("NSE_EQ", 2885)
        assert first == {"type": "Previous Close", "exchange_segment": 1,
                         "security_id": 2885, "prev_close": "2500.75", "prev_OI": 0}
        await fake.feed.push("NSE_EQ", 2885, 2501.25)
        tick = (await client.receive())["tick"]
    assert (tick["type"], tick["security_id"], tick["LTP"]) == ("Ticker Data", 2885, "2501.25")
