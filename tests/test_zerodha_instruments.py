"""The Kite instrument master: parse, validate, swap atomically, map both ways (BRK-11)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from brokers.errors import InstrumentMasterInvalid
from brokers.zerodha.instruments import KiteInstruments
from core.clock import FakeClock
from tests.fakes.kite import KiteFake, running_fake
from tests.fakes.kite.book import sample_instruments
from tests.zerodha_kit import broker_for, logged_in

HEADER = ("instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
          "tick_size,lot_size,instrument_type,segment,exchange\n")


def test_the_published_master_maps_symbols_to_tokens_and_back() -> None:
    master = KiteInstruments(FakeClock(datetime.now(UTC)))
    snapshot = master.load(sample_instruments())
    assert len(snapshot) == 102  # 99 published rows + RELIANCE, INFY, SBIN
    assert master.token("NSE", "RELIANCE") == 738_561 == 2885 << 8 | 1
    assert master.instrument(408_065) == ("NSE", "INFY")
    assert master.token("NSE", "CENTRALBK-BE") == 3_813_889  # a published row
    assert master.token("BSE", "RELIANCE") is None
    assert master.instrument(1) is None


@pytest.mark.parametrize(("text", "problem"), [
    ("instrument_token,tradingsymbol,exchange\n1,A,NSE\n", "lacks columns"),
    (HEADER, "empty"),
    ("", "lacks columns"),
    (HEADER + "notanumber,1,X,X,0,,0,0.05,1,EQ,NSE,NSE\n", "line 2"),
    (HEADER + "256,1,,X,0,,0,0.05,1,EQ,NSE,NSE\n", "empty key"),
])
def test_a_bad_master_is_refused_and_the_old_one_stays(text: str, problem: str) -> None:
    master = KiteInstruments(FakeClock(datetime.now(UTC)))
    master.load(sample_instruments())
    with pytest.raises(InstrumentMasterInvalid, match=problem):
        master.load(text)
    assert master.token("NSE", "RELIANCE") == 738_561


def test_a_new_master_replaces_the_old_one_whole() -> None:
    master = KiteInstruments(FakeClock(datetime.now(UTC)))
    master.load(sample_instruments())
    old = master.snapshot
    # RELIANCE relisted under a new token; INFY gone; enough rows not to look truncated.
    rows = [ln for ln in sample_instruments().splitlines()[1:] if ",INFY," not in ln]
    rows = [ln.replace("738561,2885,", "738817,2886,") for ln in rows]
    master.load(HEADER + "\n".join(rows) + "\n")
    assert master.snapshot is not old
    assert master.token("NSE", "RELIANCE") == 738_817
    assert master.instrument(738_561) is None
    assert master.token("NSE", "INFY") is None
    assert old is not None and old.by_instrument[("NSE", "INFY")].token == 408_065


def test_a_master_much_smaller_than_the_current_one_is_refused_as_truncated() -> None:
    master = KiteInstruments(FakeClock(datetime.now(UTC)))
    master.load(sample_instruments())
    head = "".join(sample_instruments().splitlines(keepends=True)[:20])
    with pytest.raises(InstrumentMasterInvalid, match="shrank"):
        master.load(head)


@pytest.fixture
async def fake() -> AsyncIterator[KiteFake]:
    """A running fake Kite."""
    async with running_fake() as server:
        yield server


async def test_the_master_is_downloaded_once_per_ist_day(fake: KiteFake) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # 08:30 IST
    session = logged_in(fake, expires_at=datetime(2026, 11, 27, tzinfo=UTC))
    broker = broker_for(fake, session, clock=clock)
    try:
        await broker.ensure_instruments()
        await broker.ensure_instruments()
        downloads = [r for r in fake.book.requests if r.path == "/instruments"]
        assert len(downloads) == 1
        assert downloads[0].headers["Authorization"].startswith("token ")
        await clock.advance(timedelta(hours=20).total_seconds())  # the next IST day
        await broker.ensure_instruments()
        assert len([r for r in fake.book.requests if r.path == "/instruments"]) == 2
    finally:
        await broker.close()
