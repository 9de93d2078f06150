"""SmartWebSocket v2: the binary parser, and the live socket against the fake (auth
headers, subscribe, heartbeats, malformed frames, reconnect after a drop)."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator

import pytest

from brokers.angel_one.instruments import AngelInstruments
from brokers.angel_one.packets import parse_frame, to_paise
from brokers.angel_one.ticker import AngelTicker
from brokers.errors import TokenExpired
from core.clock import RealClock
from core.messages import Tick
from tests.angel_kit import broker_for, credentials, session_at
from tests.fakes.angel import AngelFake, Quote, running_fake
from tests.fakes.angel.packets import GARBAGE, LTP, QUOTE, SNAP_QUOTE, frame
from tests.stubs import eventually

RELIANCE = (1, "2885")


# ---- the parser ------------------------------------------------------------------------------


def test_the_ltp_frame_of_the_protocol_notes_parses() -> None:
    raw = struct.pack("<BB", 1, 1) + b"2885".ljust(25, b"\0") + struct.pack(
        "<qqq", 12345, 1_790_000_000_123, 250_075)
    assert len(raw) == 51
    packet = parse_frame(raw)
    assert packet is not None
    assert (packet.mode, packet.exchange_type, packet.token) == (1, 1, "2885")
    assert (packet.ltp_paise, packet.exchange_ts_ms) == (250_075, 1_790_000_000_123)


@pytest.mark.parametrize("mode", [LTP, QUOTE, SNAP_QUOTE])
def test_every_mode_parses_to_the_ltp(mode: int) -> None:
    data = frame(Quote(1, "3045", 47_005, exchange_ts_ms=1), mode)
    assert len(data) == {LTP: 51, QUOTE: 123, SNAP_QUOTE: 379}[mode]
    packet = parse_frame(data)
    assert packet is not None
    assert (packet.mode, packet.token, packet.ltp_paise) == (mode, "3045", 47_005)


def test_malformed_frames_are_refused() -> None:
    good = frame(Quote(1, "2885", 250_000), QUOTE)
    assert parse_frame(GARBAGE) is None
    assert parse_frame(good[:100]) is None  # a quote frame cut short
    assert parse_frame(b"\x07" + good[1:]) is None  # no such mode
    bad_token = good[:2] + b"28x5".ljust(25, b"\0") + good[27:]
    assert parse_frame(bad_token) is None


def test_currency_prices_are_scaled_to_paise() -> None:
    assert to_paise(13, 835_550_000) == 8_356  # ₹83.555 → 8,355.5 paise, half up
    assert to_paise(1, 250_075) == 250_075


# ---- live against the fake -------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[AngelFake]:
    """A running fake SmartAPI."""
    async with running_fake() as server:
        yield server


class Collector:
    """Runs a ticker's `ticks()` in the background and keeps what it yields."""

    def __init__(self, ticker: AngelTicker) -> None:
        self.ticker = ticker
        self.ticks: list[Tick] = []
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for tick in self.ticker.ticks():
                self.ticks.append(tick)
        except Exception as exc:  # noqa: BLE001 (kept for the test to look at)
            self.error = exc

    async def close(self) -> None:
        await self.ticker.close()
        await asyncio.wait_for(self.task, timeout=5)


@pytest.fixture
async def ticker(fake: AngelFake) -> AsyncIterator[Collector]:
    """An Angel ticker on the fake, collecting ticks."""
    broker = broker_for(fake, credentials(fake, session=session_at(fake)))
    collector = Collector(broker.ticker())
    yield collector
    await collector.close()
    await broker.close()


async def test_subscribing_sends_angels_request_and_ticks_arrive_in_paise(
        fake: AngelFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE"), ("NSE", "NOSUCH")])
    await eventually(lambda: fake.feed.subscribed(RELIANCE), message="subscribed")
    request = fake.feed.subscribers[0].received[0]
    assert request["action"] == 1
    assert request["params"] == {"mode": 1, "tokenList": [{"exchangeType": 1,
                                                           "tokens": ["2885"]}]}
    assert len(request["correlationID"]) == 10
    handshake = fake.feed.handshakes[0]
    assert handshake["authorization"].startswith("Bearer ")
    assert handshake["x-api-key"] == fake.book.api_key
    assert handshake["x-client-code"] == fake.book.client_code
    assert handshake["x-feed-token"] in fake.book.feed_tokens

    await fake.feed.push(Quote(1, "3045", 47_000))  # not subscribed: Angel would not send it
    await fake.feed.push(Quote(1, "2885", 250_075, exchange_ts_ms=1_790_000_000_000))
    await eventually(lambda: len(ticker.ticks) == 1, message="a tick")
    tick = ticker.ticks[0]
    assert (tick.exchange, tick.symbol, tick.ltp_paise) == ("NSE", "RELIANCE", 250_075)
    assert tick.exchange_ts == 1_790_000_000_000 * 1_000_000

    await ticker.ticker.unsubscribe([("NSE", "RELIANCE")])
    await eventually(lambda: not fake.feed.subscribed(RELIANCE), message="unsubscribed")


async def test_the_text_heartbeat_is_answered(fake: AngelFake) -> None:
    broker = broker_for(fake, credentials(fake, session=session_at(fake)))
    session = broker.session
    assert session is not None
    ticker = AngelTicker(fake.ws_url, api_key=fake.book.api_key,
                         client_code=fake.book.client_code, jwt_token=session.jwt_token,
                         feed_token=session.feed_token, instruments=AngelInstruments(
                             RealClock()), ensure_master=broker.ensure_instruments,
                         clock=RealClock(), heartbeat_s=0.05, idle_timeout_s=1.0)
    collector = Collector(ticker)
    try:
        await eventually(lambda: fake.feed.pings >= 3, message="pings answered")
        assert collector.error is None
        assert ticker.connections == 1
    finally:
        await collector.close()
        await broker.close()


async def test_a_malformed_frame_and_an_error_text_are_skipped(
        fake: AngelFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE")])
    await eventually(lambda: fake.feed.subscribed(RELIANCE))
    await fake.feed.send_raw(GARBAGE)
    await fake.feed.send_raw(json.dumps({"correlationID": "x", "errorCode": "E1002",
                                         "errorMessage": "Subscription Limit Exceeded"}))
    await fake.feed.push(Quote(1, "2885", 250_100))
    await eventually(lambda: [t.ltp_paise for t in ticker.ticks] == [250_100])
    assert ticker.ticker.malformed == 1


async def test_the_ticker_reconnects_after_a_drop_and_resubscribes(
        fake: AngelFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE")])
    await eventually(lambda: fake.feed.subscribed(RELIANCE))
    fake.feed.drop_all()
    await eventually(lambda: ticker.ticker.connections == 2, message="reconnected")
    await eventually(lambda: fake.feed.subscribed(RELIANCE), message="resubscribed")
    await fake.feed.push(Quote(1, "2885", 249_900))
    await eventually(lambda: [t.ltp_paise for t in ticker.ticks] == [249_900])


async def test_a_refused_session_ends_the_ticks_with_token_expired(fake: AngelFake) -> None:
    session = session_at(fake)
    fake.book.jwts.discard(session.jwt_token)  # logged out meanwhile
    broker = broker_for(fake, credentials(fake, session=session))
    try:
        with pytest.raises(TokenExpired):
            async for _ in broker.ticker().ticks():
                pass
        assert fake.feed.refused == 1
    finally:
        await broker.close()
