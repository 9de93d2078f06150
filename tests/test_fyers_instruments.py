"""The Fyers symbol master: parse, validate, swap atomically, map both ways (BRK-11)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from brokers.errors import BrokerUnavailable, InstrumentMasterInvalid
from brokers.fyers.instruments import FyersInstruments, default_ticker, split_ticker
from core.clock import FakeClock
from tests.fakes.fyers import FyersFake, running_fake
from tests.fakes.fyers.book import sample_master
from tests.fyers_kit import broker_for, logged_in

RELIANCE_ROW = ("10100000002885,RELIANCE INDUSTRIES LTD,0,1,0.05,INE002A01018,"
                "0915-1530|1815-1915:,1764028800,,NSE:RELIANCE-EQ,10,10,2885,RELIANCE,2885,"
                "-1.0,XX,10100000002885,None,0,0.0")
"""The row PROTOCOLS.md §3.7 shows."""


def master() -> FyersInstruments:
    """An empty master on a fake clock."""
    return FyersInstruments(FakeClock(datetime.now(UTC)))


def test_tickers_map_to_our_names_and_back() -> None:
    assert split_ticker("NSE:RELIANCE-EQ") == ("NSE", "RELIANCE")
    assert split_ticker("NSE:BAJAJ-AUTO-EQ") == ("NSE", "BAJAJ-AUTO")
    assert split_ticker("NSE:CENTRALBK-BE") == ("NSE", "CENTRALBK-BE")
    assert default_ticker("NSE", "SBIN") == "NSE:SBIN-EQ"


def test_the_master_maps_symbols_to_tickers_fytokens_and_topics() -> None:
    instruments = master()
    snapshot = instruments.load(sample_master())
    assert len(snapshot) == 66
    record = instruments.get("NSE", "RELIANCE")
    assert record is not None
    assert (record.fytoken, record.ticker, record.scrip_code) == (
        "10100000002885", "NSE:RELIANCE-EQ", 2885)
    assert record.topic == "sf|nse_cm|2885"
    assert instruments.instrument("101000000014366") == ("NSE", "IDEA")
    idea = instruments.get("NSE", "IDEA")
    assert idea is not None
    assert idea.topic == "sf|nse_cm|14366"  # a 15-digit fytoken: the token is [10:]
    assert instruments.ticker("NSE", "CENTRALBK-BE") == "NSE:CENTRALBK-BE"
    assert instruments.ticker("NSE", "UNLISTED") == "NSE:UNLISTED-EQ"
    nifty = instruments.get("NSE", "NIFTY50-INDEX")
    assert nifty is not None
    assert nifty.topic is None  # indices are not streamed as sf topics
    assert instruments.get("BSE", "RELIANCE") is None


def test_the_published_row_layout_parses_with_or_without_a_header() -> None:
    instruments = master()
    instruments.load("Fytoken,Symbol Details,...\n" + RELIANCE_ROW + "\n")
    assert instruments.ticker("NSE", "RELIANCE") == "NSE:RELIANCE-EQ"


@pytest.mark.parametrize(("text", "problem"), [
    ("", "empty"),
    ("10100000002885,RELIANCE,0,1\n", "columns"),
    (RELIANCE_ROW.replace(",2885,RELIANCE,", ",x,RELIANCE,") + "\n", "line 1"),
    (RELIANCE_ROW.replace("10100000002885,R", "ABC,R") + "\n", "key fields"),
    (RELIANCE_ROW.replace("NSE:RELIANCE-EQ", "") + "\n", "key fields"),
])
def test_a_bad_master_is_refused_and_the_old_one_stays(text: str, problem: str) -> None:
    instruments = master()
    instruments.load(sample_master())
    with pytest.raises(InstrumentMasterInvalid, match=problem):
        instruments.load(text)
    assert instruments.ticker("NSE", "RELIANCE") == "NSE:RELIANCE-EQ"
    assert instruments.get("NSE", "SBIN") is not None


def test_a_new_master_replaces_the_old_one_whole() -> None:
    instruments = master()
    instruments.load(sample_master())
    old = instruments.snapshot
    rows = [r for r in sample_master().splitlines() if "NSE:INFY-EQ" not in r]
    rows = [r.replace("10100000002885", "10100000002886") for r in rows]
    instruments.load("\n".join(rows) + "\n")
    assert instruments.snapshot is not old
    assert instruments.instrument("10100000002886") == ("NSE", "RELIANCE")
    assert instruments.instrument("10100000002885") is None
    assert instruments.get("NSE", "INFY") is None
    assert old is not None and old.by_instrument[("NSE", "INFY")].fytoken == "10100000001594"


def test_a_master_much_smaller_than_the_current_one_is_refused_as_truncated() -> None:
    instruments = master()
    instruments.load(sample_master())
    with pytest.raises(InstrumentMasterInvalid, match="shrank"):
        instruments.load("\n".join(sample_master().splitlines()[:10]) + "\n")


@pytest.fixture
async def fake() -> AsyncIterator[FyersFake]:
    """A running fake Fyers."""
    async with running_fake() as server:
        yield server


async def test_the_master_is_downloaded_once_per_ist_day_without_credentials(
        fake: FyersFake) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # 08:30 IST
    session = logged_in(fake, expires_at=datetime(2026, 11, 27, tzinfo=UTC))
    broker = broker_for(fake, session, clock=clock)
    try:
        await broker.ensure_instruments()
        await broker.ensure_instruments()
        downloads = [r for r in fake.book.requests if r.path == "/sym_details/NSE_CM.csv"]
        assert len(downloads) == 1
        assert "authorization" not in downloads[0].headers  # a public file
        await clock.advance(timedelta(hours=20).total_seconds())  # the next IST day
        await broker.ensure_instruments()
        assert len([r for r in fake.book.requests if r.path.startswith("/sym_details")]) == 2
        fake.book.master_csv = sample_master()[:400]  # a download that broke off mid-row
        with pytest.raises(InstrumentMasterInvalid):
            await broker.refresh_instruments()
        assert broker.http is not None
        assert (await broker.get_ltp("NSE", "RELIANCE")) == 250_075  # the old master serves
    finally:
        await broker.close()


async def test_a_missing_master_file_is_unavailable(fake: FyersFake) -> None:
    broker = broker_for(fake)
    try:
        with pytest.raises(BrokerUnavailable, match="404"):
            await broker.http.symbol_master("NOSUCH.csv")
    finally:
        await broker.close()
