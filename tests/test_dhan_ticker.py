"""The Dhan live feed: the little-endian packet parser, and the live socket against the fake
(subscribe messages, ticks in paise, malformed frames, reconnect, a dead session)."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator

import pytest

from brokers.dhan.packets import parse_frame
from brokers.dhan.ticker import DhanTicker, requests
from brokers.errors import TokenExpired
from core.messages import Tick
from tests.dhan_kit import broker_for, logged_in
from tests.fakes.dhan import DhanFake, running_fake
from tests.fakes.dhan import packets as fake_packets
from tests.stubs import eventually

# ---- the parser ------------------------------------------------------------------------------


def test_the_ticker_packet_of_the_protocol_notes_parses() -> None:
    # The frame the SDK's own parser decodes as NSE_EQ 2885 at 2500.75 (PROTOCOLS.md §2.6).
    frame = struct.pack("<BHBIfI", 2, 16, 1, 2885, 2500.75, 1_790_000_000)
    parsed = parse_frame(frame)
    assert parsed.malformed == 0
    (packet,) = parsed.packets
    assert (packet.segment, packet.security_id, packet.ltp_paise) == (1, 2885, 250_075)
    assert packet.last_trade_s == 1_790_000_000


def test_quote_and_full_packets_carry_the_price_and_others_none() -> None:
    for build in (fake_packets.quote, fake_packets.full):
        (packet,) = parse_frame(build("NSE_EQ", 2885, 1573.15, 1)).packets
        assert packet.ltp_paise == 157_315
    assert parse_frame(fake_packets.prev_close("NSE_EQ", 2885, 2490.0)).packets == []
    several = fake_packets.prev_close("NSE_EQ", 2885, 2490.0) + \
        fake_packets.ticker("NSE_FNO", 49081, 24_100.5, 1)
    assert [p.ltp_paise for p in parse_frame(several).packets] == [2_410_050]


def test_malformed_frames_are_skipped_never_guessed() -> None:
    good = fake_packets.ticker("NSE_EQ", 2885, 2500.0, 1)
    assert parse_frame(fake_packets.MALFORMED).malformed == 1
    parsed = parse_frame(good + good[:10])  # the second packet is cut short
    assert ([p.ltp_paise for p in parsed.packets], parsed.malformed) == ([250_000], 1)
    nan = struct.pack("<BHBIfI", 2, 16, 1, 2885, float("nan"), 1)
    zero = struct.pack("<BHBIfI", 2, 16, 1, 2885, 0.0, 1)
    assert parse_frame(nan + zero).packets == []


def test_a_disconnect_packet_reports_its_reason() -> None:
    assert parse_frame(fake_packets.disconnect(807)).disconnect == 807


def test_subscriptions_go_out_in_batches_of_a_hundred() -> None:
    messages = [json.loads(m) for m in requests(15, [("NSE_EQ", i) for i in range(1, 251)])]
    assert [m["InstrumentCount"] for m in messages] == [100, 100, 50]
    assert messages[0]["InstrumentList"][0] == {"ExchangeSegment": "NSE_EQ", "SecurityId": "1"}
    assert {m["RequestCode"] for m in messages} == {15}


# ---- live against the fake -------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[DhanFake]:
    """A running fake Dhan."""
    async with running_fake() as server:
        yield server


class Collector:
    """Runs a ticker's `ticks()` in the background and keeps what it yields."""

    def __init__(self, ticker: DhanTicker) -> None:
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
async def ticker(fake: DhanFake) -> AsyncIterator[Collector]:
    """A Dhan feed on the fake, collecting ticks."""
    broker = broker_for(fake)
    collector = Collector(broker.ticker())
    yield collector
    await collector.close()
    await broker.close()


async def test_subscribing_sends_ticker_requests_and_ticks_arrive_in_paise(
        fake: DhanFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE"), ("NSE", "NOSUCH")])
    await eventually(lambda: fake.feed.subscribed("NSE_EQ", 2885), message="subscribed")
    sub = fake.feed.subscribers[0]
    assert sub.received[0] == {"RequestCode": 15, "InstrumentCount": 1, "InstrumentList": [
        {"ExchangeSegment": "NSE_EQ", "SecurityId": "2885"}]}
    handshake = fake.feed.handshakes[0]
    assert (handshake["version"], handshake["authType"]) == ("2", "2")
    assert handshake["clientId"] == fake.book.client_id
    assert handshake["token"] in fake.book.access_tokens

    await fake.feed.push("NSE_EQ", 1594, 1500.0)  # not subscribed: Dhan would not send it
    await fake.feed.push("NSE_EQ", 2885, 2500.75)
    await eventually(lambda: len(ticker.ticks) == 1, message="a tick")
    tick = ticker.ticks[0]  # the previous-close packet on subscribing is no tick
    assert (tick.exchange, tick.symbol, tick.ltp_paise) == ("NSE", "RELIANCE", 250_075)
    assert tick.exchange_ts == tick.received_ts

    await ticker.ticker.unsubscribe([("NSE", "RELIANCE")])
    await eventually(lambda: not fake.feed.subscribed("NSE_EQ", 2885), message="unsubscribed")
    assert sub.received[-1]["RequestCode"] == 16


async def test_a_malformed_frame_is_skipped_and_the_stream_goes_on(
        fake: DhanFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE")])
    await eventually(lambda: fake.feed.subscribed("NSE_EQ", 2885))
    await fake.feed.send_raw(fake_packets.MALFORMED)
    await fake.feed.send_raw("a text frame Dhan does not send")
    await fake.feed.push("NSE_EQ", 2885, 2501.0)
    await eventually(lambda: [t.ltp_paise for t in ticker.ticks] == [250_100])
    assert ticker.ticker.malformed == 1
    assert ticker.ticker.connections == 1


async def test_the_feed_reconnects_after_a_drop_and_resubscribes(
        fake: DhanFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE")])
    await eventually(lambda: fake.feed.subscribed("NSE_EQ", 2885))
    fake.feed.drop_all()
    await eventually(lambda: ticker.ticker.connections == 2, message="reconnected")
    await eventually(lambda: fake.feed.subscribed("NSE_EQ", 2885), message="resubscribed")
    await fake.feed.push("NSE_EQ", 2885, 2499.0)
    await eventually(lambda: [t.ltp_paise for t in ticker.ticks] == [249_900])


async def test_closing_says_goodbye(fake: DhanFake, ticker: Collector) -> None:
    await ticker.ticker.subscribe([("NSE", "RELIANCE")])
    await eventually(lambda: fake.feed.subscribed("NSE_EQ", 2885))
    sub = fake.feed.subscribers[0]
    await ticker.close()
    assert ticker.task.done()
    await eventually(lambda: sub.received[-1] == {"RequestCode": 12}, message="goodbye")


async def test_an_expired_session_ends_the_ticks_with_token_expired(fake: DhanFake) -> None:
    credentials = logged_in(fake)
    assert credentials.access_token is not None
    fake.book.expire(credentials.access_token)
    broker = broker_for(fake, credentials)
    try:
        with pytest.raises(TokenExpired, match="807"):
            async for _ in broker.ticker().ticks():
                pass
        assert fake.feed.refused == 1
    finally:
        await broker.close()
