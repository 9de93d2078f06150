"""Fyers' own SDK (`fyers-apiv3`) against the fake Fyers: a fake the official client does not
accept is not wire-faithful (issue: real brokers).

The SDK lives in its own venv (it pins old requests, setuptools, aiohttp and an asyncio
backport) and runs as `tests/sdk/fyers_client.py` (tests/sdk/), which points its URL
constants at the fake; the fake serves here, and the script reports what the SDK got back.
Our adapter never imports the SDK.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fyers import Fault, FyersFake, running_fake
from tests.fakes.fyers import hsm as server
from tests.sdk_runner import run_sdk_client, sdk_client
from tests.stubs import eventually

SCRIPT = "fyers_client.py"
RELIANCE = "sf|nse_cm|2885"


@pytest.fixture
async def fake() -> AsyncIterator[FyersFake]:
    """A running fake Fyers."""
    async with running_fake() as server_:
        yield server_


def args(fake: FyersFake, tmp_path: Path, **more: Any) -> str:
    """The fake's URLs, the app id and a folder for the SDK's log files."""
    return json.dumps({"api_url": fake.api_url, "ws_url": fake.ws_url,
                       "app_id": fake.book.app_id, "log_path": str(tmp_path), **more})


async def test_the_sdk_logs_in_orders_and_reads_the_book_positions_and_quotes(
        fake: FyersFake, tmp_path: Path) -> None:
    got = await run_sdk_client(SCRIPT, "rest", args(
        fake, tmp_path, secret=fake.book.secret, auth_code=fake.book.issue_auth_code()))
    assert got["authcode_url"].startswith(f"{fake.api_url}/api/v3/generate-authcode?")
    assert got["login"]["s"] == "ok", got["login"]
    token = got["login"]["access_token"]
    assert token in fake.book.access_tokens
    assert got["profile"]["data"]["fy_id"] == fake.book.fy_id

    placed = got["placed"]
    assert (placed["s"], placed["code"]) == ("ok", 1101)
    assert placed["id"] in fake.book.orders
    [sent] = [r for r in fake.book.requests
              if r.method == "POST" and r.path.endswith("/orders/sync")]
    assert sent.headers["authorization"] == f"{fake.book.app_id}:{token}"
    assert sent.headers["version"] == "3"

    [entry] = got["book"]["orderBook"]
    assert (entry["id"], entry["orderTag"], entry["status"], entry["tradedPrice"]) == (
        placed["id"], "1:sdk1", 2, 2500.75)
    assert [o["id"] for o in got["by_tag"]["orderBook"]] == [placed["id"]]
    assert [o["id"] for o in got["by_id"]["orderBook"]] == [placed["id"]]

    [net] = got["positions"]["netPositions"]
    assert (net["symbol"], net["netQty"], net["buyVal"]) == ("NSE:RELIANCE-EQ", 2, 5001.5)
    assert {q["n"]: q["v"]["lp"] for q in got["quotes"]["d"]} == {
        "NSE:RELIANCE-EQ": 2500.75, "NSE:SBIN-EQ": 470.0}
    assert got["quotes_v2"]["d"][0]["v"]["lp"] == 1074.35


async def test_the_sdk_reads_fyers_error_bodies(fake: FyersFake, tmp_path: Path) -> None:
    fake.book.arm(Fault("reject", code=-99, message="RMS:Margin Shortfall"))
    got = await run_sdk_client(SCRIPT, "errors", args(
        fake, tmp_path, access_token=fake.book.issue_access_token()))
    refused = got["refused"]
    assert (refused["s"], refused["code"], refused["message"]) == (
        "error", -99, "RMS:Margin Shortfall")
    assert got["stranger"]["code"] == -16


async def test_the_sdks_own_parser_reads_the_fakes_frames(fake: FyersFake,
                                                         tmp_path: Path) -> None:
    values = server.sf_values(250_075, exch_time=1_790_000_000)
    update = [server.ABSENT] * server.SF_FIELDS
    update[0] = 250_100
    frames = [server.auth_answer(True), server.mode_answer(True), server.sub_answer(4, True),
              server.data(1, [server.snapshot(1, RELIANCE, values, token="2885",
                                              symbol="RELIANCE-EQ")]),
              server.data(2, [server.full_update(1, update)]),
              server.data(3, [server.lite_update(1, 249_950)]),
              server.custom_message(51001, "symbol limit reached", 4)]
    got = await run_sdk_client(SCRIPT, "parse", args(
        fake, tmp_path, symbol_token={RELIANCE: "NSE:RELIANCE-EQ"},
        frames=[f.hex() for f in frames]))
    messages = got["messages"]
    assert [m["type"] for m in messages[:3]] == ["cn", "ful", "sub"]
    ticks = [m for m in messages if m.get("type") == "sf"]
    assert [(t["symbol"], t["ltp"]) for t in ticks] == [
        ("NSE:RELIANCE-EQ", 2500.75), ("NSE:RELIANCE-EQ", 2501.0),
        ("NSE:RELIANCE-EQ", 2499.5)]
    assert ticks[0]["exch_feed_time"] == 1_790_000_000
    assert len(messages) == 6  # the custom message is an error, not a message
    assert got["errors"] == [{"type": "sub", "code": 51001,
                              "message": "symbol limit reached", "s": "error"}]


async def test_the_sdks_data_socket_authenticates_subscribes_and_parses_live_ticks(
        fake: FyersFake, tmp_path: Path) -> None:
    token = fake.book.issue_access_token()
    socket = args(fake, tmp_path, access_token=f"{fake.book.app_id}:{token}",
                  symbols=["NSE:RELIANCE-EQ"], ticks=2)
    async with sdk_client(SCRIPT, "socket", socket) as client:
        assert await client.receive() == {"subscribed": ["NSE:RELIANCE-EQ"]}
        await eventually(lambda: fake.socket.subscribed(RELIANCE), message="subscribed")
        subscriber = fake.socket.subscribers[0]
        assert subscriber.lite
        assert [m.kind for m in subscriber.received][:3] == [1, 12, 4]
        auth = subscriber.received[0].fields
        assert (auth[1].decode(), auth[2], auth[4]) == (
            fake.book.access_tokens[token], b"P", b"PythonSDK-3.2.0")
        symbol_token = [r for r in fake.book.requests if r.path == "/data/symbol-token"]
        assert symbol_token[0].headers["authorization"] == token  # the bare token

        await fake.socket.push(RELIANCE, 250_075)
        await fake.socket.push(RELIANCE, 250_100)
        got = await client.receive()
    messages = got["messages"]
    assert [m["ltp"] for m in messages if "ltp" in m] == [2500.75, 2501.0]
    assert {m["symbol"] for m in messages if "ltp" in m} == {"NSE:RELIANCE-EQ"}
    assert {m["type"] for m in messages} >= {"cn", "lit", "sub"}
    assert got["errors"] == []
