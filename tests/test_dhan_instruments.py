"""The Dhan scrip master: parse, choose, validate, swap atomically, map both ways (BRK-11)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from brokers.dhan.instruments import DhanInstruments
from brokers.errors import InstrumentMasterInvalid
from core.clock import FakeClock
from tests.dhan_kit import broker_for, logged_in
from tests.fakes.dhan import DhanFake, running_fake
from tests.fakes.dhan.book import HEADER, scrip_master


def master() -> DhanInstruments:
    """An empty master on a fake clock."""
    return DhanInstruments(FakeClock(datetime.now(UTC)))


def test_symbols_map_to_segment_and_security_id_and_back() -> None:
    instruments = master()
    snapshot = instruments.load(scrip_master())
    assert len(snapshot) == 5 + 60 + 3  # equities, fillers, NIFTY, BSE RELIANCE, a future
    reliance = instruments.get("NSE", "RELIANCE")
    assert reliance is not None
    assert (reliance.segment, reliance.security_id, reliance.series) == ("NSE_EQ", 2885, "EQ")
    assert instruments.by_key("NSE_EQ", 2885) is reliance  # the EQ row, not the BE twin
    bse = instruments.get("BSE", "RELIANCE")
    assert bse is not None and bse.key == ("BSE_EQ", 500325)
    nifty = instruments.get("NSE", "NIFTY")
    assert nifty is not None and nifty.key == ("IDX_I", 13)
    future = instruments.get("NFO", "NIFTY-Nov2026-FUT")
    assert future is not None and (future.key, future.lot_size) == (("NSE_FNO", 49081), 75)
    assert instruments.get("NSE", "NOSUCH") is None
    assert instruments.by_key("NSE_EQ", 1) is None


@pytest.mark.parametrize(("text", "problem"), [
    ("SEM_EXM_EXCH_ID,SEM_SEGMENT\nNSE,E\n", "lacks columns"),
    (HEADER + "\n", "empty"),
    ("", "lacks columns"),
    (HEADER + "\nNSE,E,notanumber,EQUITY,0,X,1.0,X,,,,5.0000,NA,ES,EQ,X\n", "line 2"),
    (HEADER + "\nNSE,E,7,EQUITY,0,,1.0,X,,,,5.0000,NA,ES,EQ,X\n", "empty key"),
])
def test_a_bad_master_is_refused_and_the_old_one_stays(text: str, problem: str) -> None:
    instruments = master()
    instruments.load(scrip_master())
    with pytest.raises(InstrumentMasterInvalid, match=problem):
        instruments.load(text)
    reliance = instruments.get("NSE", "RELIANCE")
    assert reliance is not None and reliance.security_id == 2885


def test_a_new_master_replaces_the_old_one_whole() -> None:
    instruments = master()
    instruments.load(scrip_master())
    old = instruments.snapshot
    rows = [ln for ln in scrip_master().splitlines()[1:] if ",INFY," not in ln]
    rows = [ln.replace("NSE,E,2885,", "NSE,E,2886,") for ln in rows]
    instruments.load(HEADER + "\n" + "\n".join(rows) + "\n")
    assert instruments.snapshot is not old
    reliance = instruments.get("NSE", "RELIANCE")
    assert reliance is not None and reliance.security_id == 2886
    assert instruments.by_key("NSE_EQ", 2885) is None
    assert instruments.get("NSE", "INFY") is None
    assert old is not None and old.by_instrument[("NSE", "INFY")].security_id == 1594


def test_a_truncated_master_is_refused() -> None:
    instruments = master()
    instruments.load(scrip_master())
    text = scrip_master()
    with pytest.raises(InstrumentMasterInvalid, match="shrank"):
        instruments.load(text[: len(text) // 3].rsplit("\n", 1)[0] + "\n")


@pytest.fixture
async def fake() -> AsyncIterator[DhanFake]:
    """A running fake Dhan."""
    async with running_fake() as server:
        yield server


async def test_the_master_is_downloaded_once_per_ist_day_without_our_token(
        fake: DhanFake) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # 08:30 IST
    session = logged_in(fake, expires_at=datetime(2026, 11, 27, tzinfo=UTC))
    broker = broker_for(fake, session, clock=clock)
    path = "/api-data/api-scrip-master.csv"
    try:
        await broker.ensure_instruments()
        await broker.ensure_instruments()
        downloads = [r for r in fake.book.requests if r.path == path]
        assert len(downloads) == 1
        assert "access-token" not in downloads[0].headers  # a public file on another host
        await clock.advance(timedelta(hours=20).total_seconds())  # the next IST day
        await broker.ensure_instruments()
        assert len([r for r in fake.book.requests if r.path == path]) == 2
    finally:
        await broker.close()
