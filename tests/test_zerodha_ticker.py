"""The Kite ticker: the binary parser on published packets, and the live socket against the
fake (subscribe, modes, heartbeats, malformed frames, reconnect after a drop)."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from brokers.errors import TokenExpired
from brokers.zerodha.packets import parse_frame, to_paise
from brokers.zerodha.ticker import KiteTicker
from core.messages import Tick
from tests.fakes.kite import KiteFake, Quote, running_fake
from tests.fakes.kite.packets import frame, packet
from tests.stubs import eventually
from tests.zerodha_kit import broker_for, logged_in

MOCKS = Path(__file__).parent / "fakes" / "kite" / "mocks"
RELIANCE = 738_561
INFY = 408_065


def published(name: str) -> bytes:
    """A frame around one of Zerodha's published packets."""
    raw = base64.b64decode((MOCKS / name).read_text())
    return struct.pack(">HH", 1, len(raw)) + raw


# ---- the parser ------------------------------------------------------------------------------


def test_published_quote_and_full_packets_parse_to_the_published_values() -> None:
    quote_json = json.loads((MOCKS / "ticker_quote.json").read_text())
    (quote,), bad = parse_frame(published("ticker_quote.packet"))
    assert bad == 0
    assert (quote.token, quote.mode) == (quote_json["instrument_token"], "quote")
    assert quote.ltp_paise == round(quote_json["last_price"] * 100)  # 1573.15
    assert quote.exchange_ts_s is None

    full_json = json.loads((MOCKS / "ticker_full.json").read_text())
    (full,), bad = parse_frame(published("ticker_full.packet"))
    assert bad == 0
    assert (full.token, full.mode, full.ltp_paise) == (INFY, "full", 157_370)
    assert full.ltp_paise == round(full_json["last_price"] * 100)
    assert full.exchange_ts_s == datetime.fromisoformat(full_json["timestamp"]).timestamp()


def test_an_ltp_frame_of_the_protocol_notes_parses() -> None:
    frame_bytes = bytes.fromhex("0001" "0008" "000B4501" "0003D0DB")
    (tick,), bad = parse_frame(frame_bytes)
    assert (tick.token, tick.ltp_paise, tick.mode, bad) == (RELIANCE, 250_075, "ltp", 0)


def test_heartbeats_and_malformed_packets_are_skipped() -> None:
    assert parse_frame(b"\x00") == ([], 0)
    good = packet(Quote(RELIANCE, 250_000), "ltp")
    odd = struct.pack(">iih", RELIANCE, 1, 0)  # a 10-byte packet: no such mode
    packets, bad = parse_frame(frame([odd, good]))
    assert [p.ltp_paise for p in packets] == [250_000]
    assert bad == 1
    # A length that runs past the end: the rest of the frame is not trusted.
    truncated = struct.pack(">HH", 2, 8) + good + struct.pack(">H", 44) + good
    packets, bad = parse_frame(truncated)
    assert ([p.token for p in packets], bad) == ([RELIANCE], 1)
    assert parse_frame(struct.pack(">H", 3)) == ([], 1)


def test_currency_prices_are_scaled_to_paise() -> None:
    cds_token = 412_675  # USDINR future on CDS: segment 3, prices in 1e-7 rupee
    assert cds_token & 0xFF == 3
    assert to_paise(cds_token, 727_550_000) == 7_276  # ₹72.755 → 7,275.5 paise, half up
    bcd_token = (1234 << 8) | 6  # BSE currency: 1e-4 rupee
    assert to_paise(bcd_token, 727_550) == 7_276
    assert to_paise(RELIANCE, 250_075) == 250_075


# ---- live against the fake -------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[KiteFake]:
    """A running fake Kite."""
    async with running_fake() as server:
        yield server


class Collector:
    """Runs a ticker's `ticks()` in the background and keeps what it yields."""

    def __init__(self, ticker: KiteTicker) -> None:
        self.ticker = ticker
        self.ticks: list[Tick] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for tick in self.ticker.ticks():
            self.ticks.append(tick)

    async def close(self) -> None:
        await self.ticker.close()
        await asyncio.wait_for(self.task, timeout=5)


@pytest.fixture
async def ticker(fake: KiteFake) -> AsyncIterator[Collector]:
    """A Kite ticker on the fake, collecting ticks."""
    broker = broker_for(fake)
    collector = Collector(broker.ticker())
    yield collector
    await collector.close()
    await broker.close()


async def test_subscribing_sends_tokens_and_ltp_mode_and_ticks_arrive_in_paise(
        fake: KiteFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE"), ("NSE", "NOSUCH")])
    await eventually(lambda: fake.ticker.subscribed(RELIANCE), message="subscribed")
    sub = fake.ticker.subscribers[0]
    await eventually(lambda: sub.modes.get(RELIANCE) == "ltp", message="ltp mode")
    assert sub.received[:2] == [{"a": "subscribe", "v": [RELIANCE]},
                                {"a": "mode", "v": ["ltp", [RELIANCE]]}]
    assert fake.ticker.handshakes[0]["x-kite-version"] == "3"
    assert fake.ticker.handshakes[0]["api_key"] == fake.book.api_key

    await fake.ticker.heartbeat()
    await fake.ticker.push(Quote(INFY, 150_000))  # not subscribed: Kite would not send it
    await fake.ticker.push(Quote(RELIANCE, 250_075))
    await eventually(lambda: len(ticker.ticks) == 1, message="a tick")
    tick = ticker.ticks[0]
    assert (tick.exchange, tick.symbol, tick.ltp_paise) == ("NSE", "RELIANCE", 250_075)
    assert tick.exchange_ts == tick.received_ts  # LTP mode carries no exchange time

    await ticker.ticker.unsubscribe([("NSE", "RELIANCE")])
    await eventually(lambda: not fake.ticker.subscribed(RELIANCE), message="unsubscribed")


async def test_a_malformed_frame_is_skipped_and_the_stream_goes_on(
        fake: KiteFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE")])
    await eventually(lambda: fake.ticker.subscribed(RELIANCE))
    await fake.ticker.send_raw(struct.pack(">HH", 1, 7) + b"garbage")
    await fake.ticker.send_raw(json.dumps({"type": "error", "data": "fake complaint"}))
    await fake.ticker.push(Quote(RELIANCE, 250_100))
    await eventually(lambda: [t.ltp_paise for t in ticker.ticks] == [250_100])
    assert ticker.ticker.malformed == 1


async def test_the_ticker_reconnects_after_a_drop_and_resubscribes(
        fake: KiteFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE")])
    await eventually(lambda: fake.ticker.subscribed(RELIANCE))
    fake.ticker.drop_all()
    await eventually(lambda: ticker.ticker.connections == 2, message="reconnected")
    await eventually(lambda: fake.ticker.subscribed(RELIANCE), message="resubscribed")
    await fake.ticker.push(Quote(RELIANCE, 249_900))
    await eventually(lambda: [t.ltp_paise for t in ticker.ticks] == [249_900])


async def test_full_mode_ticks_carry_the_exchange_time(fake: KiteFake) -> None:
    broker = broker_for(fake)
    ticker = broker.ticker(mode="full")
    collector = Collector(ticker)
    try:
        await ticker.subscribe([("NSE", "RELIANCE")])
        await eventually(lambda: any(s.modes.get(RELIANCE) == "full"
                                     for s in fake.ticker.subscribers))
        await fake.ticker.push(Quote(RELIANCE, 250_000, exchange_ts=1_790_000_000))
        await eventually(lambda: len(collector.ticks) == 1)
        assert collector.ticks[0].exchange_ts == 1_790_000_000 * 10**9
    finally:
        await collector.close()
        await broker.close()


async def test_a_refused_session_ends_the_ticks_with_token_expired(fake: KiteFake) -> None:
    broker = broker_for(fake, logged_in(fake, token="revoked"))
    try:
        with pytest.raises(TokenExpired):
            async for _ in broker.ticker().ticks():
                pass
        assert fake.ticker.refused == 1
    finally:
        await broker.close()
