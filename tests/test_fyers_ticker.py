"""The Fyers data socket: our HSM messages byte for byte, the stateful frame decoder, and
the live socket against the fake (auth, subscribe, lite and full mode, malformed frames,
reconnect after a drop, a refused or expired session)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest

from brokers.errors import TokenExpired
from brokers.fyers import FyersBroker, hsm
from brokers.fyers.instruments import FyersInstruments
from brokers.fyers.packets import Decoder, to_paise
from brokers.fyers.ticker import FyersTicker
from core.clock import RealClock
from core.messages import Tick
from tests.fakes.fyers import FyersFake, running_fake
from tests.fakes.fyers import hsm as server
from tests.fyers_kit import broker_for, logged_in
from tests.stubs import eventually

RELIANCE = "sf|nse_cm|2885"
INFY = "sf|nse_cm|1594"


# ---- what we send ---------------------------------------------------------------------------


def test_the_auth_message_is_the_captured_sdk_bytes() -> None:
    # PROTOCOLS.md §3.6, captured from fyers-apiv3 3.2.0 with hsm_key "HSMKEY123".
    captured = (bytes.fromhex("0028 0104 01 0009") + b"HSMKEY123" + bytes.fromhex("02 0001")
                + b"P" + bytes.fromhex("03 0001 01 04 000f") + b"PythonSDK-3.2.0")
    assert hsm.auth("HSMKEY123") == captured


def test_mode_subscribe_and_ack_messages_follow_the_sdk_layout() -> None:
    assert hsm.mode(lite=False) == bytes.fromhex("0000 0c02 01 0008 0000000000000800 02 0001 46")
    assert hsm.mode(lite=True)[-1:] == b"L"
    sub = hsm.subscribe([RELIANCE])
    # The SDK's length field (0x00a2) counts the token too; everything after it is equal.
    assert sub[2:] == bytes.fromhex("0402 01 0011 0001 0e") + RELIANCE.encode() + \
        bytes.fromhex("02 0001 0b")
    assert struct.unpack(">H", sub[:2])[0] == len(sub) - 2
    assert hsm.unsubscribe([RELIANCE])[2] == 5
    assert hsm.acknowledge(7) == bytes.fromhex("0009 0301 01 0004 00000007")
    assert hsm.PING == b"\x00\x01\x0b"
    assert [len(b) for b in hsm.batches([f"t{i}" for i in range(3001)])] == [1500, 1500, 1]


# ---- what we receive ------------------------------------------------------------------------


def test_a_snapshot_then_updates_decode_to_paise() -> None:
    decoder = Decoder()
    snap = server.data(1, [server.snapshot(7, RELIANCE,
                                           server.sf_values(250_075, exch_time=1_790_000_000),
                                           token="2885", symbol="RELIANCE-EQ")])
    decoded = decoder.feed(snap)
    assert decoded.message_number == 1
    [packet] = decoded.packets
    assert (packet.topic, packet.ltp_paise, packet.exchange_ts_s) == (
        RELIANCE, 250_075, 1_790_000_000)

    values = [server.ABSENT] * server.SF_FIELDS
    values[0] = 250_100
    [full] = decoder.feed(server.data(2, [server.full_update(7, values)])).packets
    assert (full.ltp_paise, full.exchange_ts_s) == (250_100, 1_790_000_000)  # kept
    [lite] = decoder.feed(server.data(3, [server.lite_update(7, 249_950)])).packets
    assert lite.ltp_paise == 249_950


def test_prices_scale_by_precision_and_multiplier() -> None:
    assert to_paise(250_075, 2, 1) == 250_075
    assert to_paise(727_550, 4, 1) == 7_276  # ₹72.755 → 7,275.5 paise, half up
    assert to_paise(12_345, 2, 100) == 123  # ₹1.2345
    decoder = Decoder()
    snap = server.snapshot(1, "sf|cde_fo|1", server.sf_values(727_550, exch_time=1),
                           precision=4)
    assert decoder.feed(server.data(1, [snap])).packets[0].ltp_paise == 7_276


def test_malformed_and_unknown_records_are_counted_not_guessed() -> None:
    decoder = Decoder()
    assert decoder.feed(server.MALFORMED).malformed == 1
    assert decoder.feed(b"\x00").malformed == 1
    # An update for a topic never snapshotted on this connection.
    assert decoder.feed(server.data(1, [server.lite_update(9, 100)])).malformed == 1
    # A good record before a truncated one still counts.
    good = server.snapshot(1, RELIANCE, server.sf_values(250_000, exch_time=1))
    decoded = decoder.feed(server.data(2, [good, server.lite_update(1, 1)[:3]]))
    assert ([p.ltp_paise for p in decoded.packets], decoded.malformed) == ([250_000], 1)
    # Depth topics and absent LTPs carry no price.
    depth = server.snapshot(2, "dp|nse_cm|2885", [server.ABSENT] * 30)
    assert decoder.feed(server.data(3, [depth])).packets == []


def test_control_answers_decode() -> None:
    decoder = Decoder()
    ok = decoder.feed(server.auth_answer(True, ack_count=5)).control
    assert ok is not None
    assert (ok.kind, ok.ok, ok.ack_count) == (1, True, 5)
    refused = decoder.feed(server.auth_answer(False)).control
    assert refused is not None
    assert not refused.ok
    sub = decoder.feed(server.sub_answer(4, True)).control
    assert sub is not None
    assert (sub.kind, sub.ok) == (4, True)
    custom = decoder.feed(server.custom_message(51001, "symbol limit", 4)).control
    assert custom is not None
    assert (custom.kind, custom.ok, custom.code, custom.message) == (51, False, 51001,
                                                                     "symbol limit")


# ---- live against the fake ------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FyersFake]:
    """A running fake Fyers."""
    async with running_fake() as started:
        yield started


class Collector:
    """Runs a ticker's `ticks()` in the background and keeps what it yields."""

    def __init__(self, ticker: FyersTicker) -> None:
        self.ticker = ticker
        self.ticks: list[Tick] = []
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for tick in self.ticker.ticks():
                self.ticks.append(tick)
        except TokenExpired as exc:
            self.error = exc

    async def close(self) -> None:
        await self.ticker.close()
        await asyncio.wait_for(self.task, timeout=5)


@pytest.fixture
async def broker(fake: FyersFake) -> AsyncIterator[FyersBroker]:
    """A Fyers account on the fake."""
    account = broker_for(fake)
    yield account
    await account.close()


async def subscribed(fake: FyersFake, broker: FyersBroker, *, lite: bool = True,
                     ) -> Collector:
    """A collecting ticker subscribed to RELIANCE once the fake has the subscription."""
    collector = Collector(broker.ticker(lite=lite))
    await collector.ticker.subscribe([("NSE", "RELIANCE"), ("NSE", "NOSUCH")])
    await eventually(lambda: fake.socket.subscribed(RELIANCE), message="subscribed")
    return collector


async def test_auth_mode_and_subscribe_go_out_and_ticks_arrive_in_paise(
        fake: FyersFake, broker: FyersBroker) -> None:
    collector = await subscribed(fake, broker)
    try:
        sub = fake.socket.subscribers[0]
        assert [m.kind for m in sub.received] == [1, 12, 4]
        token = broker.http.access_token
        assert token is not None
        assert sub.received[0].fields[1].decode() == fake.book.access_tokens[token]
        assert sub.lite
        await fake.socket.push(INFY, 150_000)  # not subscribed: Fyers would not send it
        await fake.socket.push(RELIANCE, 250_075)  # snapshot
        await fake.socket.push(RELIANCE, 250_100)  # lite update
        await eventually(lambda: len(collector.ticks) == 2, message="two ticks")
        first, second = collector.ticks
        assert (first.exchange, first.symbol, first.ltp_paise) == ("NSE", "RELIANCE", 250_075)
        assert first.exchange_ts > 0
        assert second.ltp_paise == 250_100
        assert second.exchange_ts == second.received_ts  # lite updates carry no time

        await collector.ticker.unsubscribe([("NSE", "RELIANCE")])
        await eventually(lambda: not fake.socket.subscribed(RELIANCE), message="unsubscribed")
    finally:
        await collector.close()


async def test_full_mode_ticks_carry_the_exchange_time(fake: FyersFake,
                                                       broker: FyersBroker) -> None:
    collector = await subscribed(fake, broker, lite=False)
    try:
        assert not fake.socket.subscribers[0].lite
        await fake.socket.push(RELIANCE, 250_000, exch_time=1_790_000_000)
        await fake.socket.push(RELIANCE, 250_050, exch_time=1_790_000_005)
        await eventually(lambda: len(collector.ticks) == 2)
        assert [t.exchange_ts for t in collector.ticks] == [1_790_000_000 * 10**9,
                                                            1_790_000_005 * 10**9]
    finally:
        await collector.close()


async def test_a_malformed_frame_is_skipped_and_the_stream_goes_on(
        fake: FyersFake, broker: FyersBroker) -> None:
    collector = await subscribed(fake, broker)
    try:
        fake.socket.malformed_next = 1
        await fake.socket.push(RELIANCE, 1)
        await fake.socket.send_raw("a text frame")
        await fake.socket.push(RELIANCE, 250_100)
        await eventually(lambda: [t.ltp_paise for t in collector.ticks] == [250_100])
        assert collector.ticker.malformed == 1
        assert collector.ticker.connections == 1
    finally:
        await collector.close()


async def test_the_ticker_reconnects_after_a_drop_and_resubscribes(
        fake: FyersFake, broker: FyersBroker) -> None:
    collector = await subscribed(fake, broker)
    try:
        fake.socket.drop_all()
        await eventually(lambda: collector.ticker.connections == 2, message="reconnected")
        await eventually(lambda: fake.socket.subscribed(RELIANCE), message="resubscribed")
        await fake.socket.push(RELIANCE, 249_900)  # a snapshot again on the new socket
        await eventually(lambda: [t.ltp_paise for t in collector.ticks] == [249_900])
    finally:
        await collector.close()


async def test_pings_keep_the_socket_alive(fake: FyersFake) -> None:
    async def loaded() -> None:
        return None

    ticker = FyersTicker(fake.ws_url, fake.book.issue_access_token(),
                         FyersInstruments(RealClock()), ensure_master=loaded,
                         clock=RealClock(), ping_interval_s=0.05)
    collector = Collector(ticker)
    try:
        await eventually(lambda: bool(fake.socket.subscribers)
                         and fake.socket.subscribers[0].pings >= 2, message="pings")
    finally:
        await collector.close()


async def test_a_refused_auth_ends_the_ticks_with_token_expired(fake: FyersFake) -> None:
    token = fake.book.issue_access_token()
    broker = broker_for(fake, logged_in(fake, token=token))
    fake.book.access_tokens[token] = "revoked-key"  # the socket no longer knows its key
    collector = Collector(broker.ticker())
    try:
        await asyncio.wait_for(collector.task, timeout=5)
        assert isinstance(collector.error, TokenExpired)
        assert fake.socket.refused == 1
    finally:
        await collector.close()
        await broker.close()


async def test_an_expired_token_is_refused_without_connecting(fake: FyersFake) -> None:
    token = fake.book.issue_access_token(lifetime_s=-60)
    broker = broker_for(fake, logged_in(fake, token=token))
    try:
        with pytest.raises(TokenExpired, match="expired"):
            async for _ in broker.ticker().ticks():
                pass
        without_key = fake.book.issue_access_token(hsm=False)
        with pytest.raises(TokenExpired, match="hsm_key"):
            async for _ in FyersTicker(fake.ws_url, without_key, FyersInstruments(RealClock()),
                                       ensure_master=broker.ensure_instruments,
                                       clock=RealClock()).ticks():
                pass
        assert fake.socket.accepted == 0
    finally:
        await broker.close()
