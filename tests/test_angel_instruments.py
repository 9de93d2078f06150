"""Angel's scrip master: parse, validate, swap atomically, map both ways (BRK-11)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from brokers.angel_one.instruments import AngelInstruments
from brokers.errors import InstrumentMasterInvalid
from core.clock import FakeClock
from tests.angel_kit import broker_for, credentials, session_at
from tests.fakes.angel import AngelFake, running_fake
from tests.fakes.angel.master import MASTER_ROWS, corrupt_json, master_json, rows

MASTER_PATH = "/OpenAPI_File/files/OpenAPIScripMaster.json"


def test_the_master_maps_symbols_to_tokens_and_back() -> None:
    master = AngelInstruments(FakeClock(datetime.now(UTC)))
    snapshot = master.load(master_json())
    assert len(snapshot) == MASTER_ROWS
    reliance = master.get("NSE", "RELIANCE")
    assert reliance is not None
    assert (reliance.tradingsymbol, reliance.token, reliance.exchange_type) == (
        "RELIANCE-EQ", "2885", 1)
    bse = master.get("BSE", "RELIANCE")
    assert bse is not None and (bse.token, bse.exchange_type) == ("500325", 3)
    assert master.get("NSE", "IDEA-BE") is not None  # other series keep their suffix
    by_token = master.by_token("NSE", "3045")
    assert by_token is not None and by_token.symbol == "SBIN"
    assert master.by_token("BSE", "3045") is None
    assert master.get("NSE", "NOSUCH") is None


@pytest.mark.parametrize(("raw", "problem"), [
    (b"", "not Angel's JSON"),
    (b"{}", "not Angel's JSON"),
    (b"[]", "empty"),
    (json.dumps([{"token": "1", "symbol": "X"}]).encode(), "not Angel's JSON"),
    (json.dumps([{"token": "x1", "symbol": "X", "name": "X", "exch_seg": "NSE"}]).encode(),
     "bad key field"),
])
def test_a_bad_master_is_refused_and_the_old_one_stays(raw: bytes, problem: str) -> None:
    master = AngelInstruments(FakeClock(datetime.now(UTC)))
    master.load(master_json())
    with pytest.raises(InstrumentMasterInvalid, match=problem):
        master.load(raw)
    assert master.get("NSE", "RELIANCE") is not None


def test_a_truncated_download_is_refused() -> None:
    master = AngelInstruments(FakeClock(datetime.now(UTC)))
    master.load(master_json())
    with pytest.raises(InstrumentMasterInvalid):
        master.load(corrupt_json())
    shrunk = json.dumps(rows()[:3]).encode()
    with pytest.raises(InstrumentMasterInvalid, match="shrank"):
        master.load(shrunk)


def test_a_new_master_replaces_the_old_one_whole() -> None:
    master = AngelInstruments(FakeClock(datetime.now(UTC)))
    master.load(master_json())
    old = master.snapshot
    changed = [dict(r, token="2886") if r["symbol"] == "RELIANCE-EQ" else r
               for r in rows() if r["symbol"] != "INFY-EQ"]
    master.load(json.dumps(changed).encode())
    assert master.snapshot is not old
    reliance = master.get("NSE", "RELIANCE")
    assert reliance is not None and reliance.token == "2886"
    assert master.by_token("NSE", "2885") is None
    assert master.get("NSE", "INFY") is None
    assert old is not None and old.by_instrument[("NSE", "INFY")].token == "1594"


@pytest.fixture
async def fake() -> AsyncIterator[AngelFake]:
    """A running fake SmartAPI."""
    async with running_fake() as server:
        yield server


async def test_the_master_is_downloaded_once_per_ist_day_without_login(
        fake: AngelFake) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # 08:30 IST
    broker = broker_for(fake, credentials(fake, session=session_at(
        fake, expires_at=datetime(2026, 11, 27, tzinfo=UTC))), clock=clock)
    try:
        await broker.ensure_instruments()
        await broker.ensure_instruments()
        downloads = [r for r in fake.book.requests if r.path == MASTER_PATH]
        assert len(downloads) == 1
        assert "Authorization" not in downloads[0].headers
        await clock.advance(timedelta(hours=20).total_seconds())  # the next IST day
        await broker.ensure_instruments()
        assert len([r for r in fake.book.requests if r.path == MASTER_PATH]) == 2
    finally:
        await broker.close()
