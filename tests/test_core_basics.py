"""Ids, clocks, subjects, messages and the error catalog."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from core import subjects
from core.clock import FakeClock, RealClock, now_ist, sleep_until, trading_day
from core.embedded.stack import Endpoints, redact_url
from core.error_codes import CATALOG, catalog_markdown
from core.errors import AlgoError, Conflict, NotFound, RateLimited, ValidationFailed
from core.ids import ID_LENGTH, id_timestamp_ms, is_valid_id, new_id
from core.messages import Event, OrderCommand, Tick, decoder, encode

ROOT = Path(__file__).resolve().parent.parent


def test_ids_are_prefixed_unique_and_time_sortable() -> None:
    earlier = new_id("ord", now_ms=1_700_000_000_000)
    later = new_id("ord", now_ms=1_700_000_000_001)
    assert earlier.startswith("ord_") and len(earlier) == 4 + ID_LENGTH
    assert earlier < later
    assert id_timestamp_ms(later) == 1_700_000_000_001
    assert len({new_id("usr") for _ in range(10_000)}) == 10_000
    assert is_valid_id(earlier, "ord") and not is_valid_id(earlier, "usr")
    assert not is_valid_id("ord_short", "ord")
    with pytest.raises(ValueError, match="unknown id prefix"):
        new_id("xyz")


async def test_fake_clock_wakes_sleepers_in_order() -> None:
    clock = FakeClock(datetime(2026, 11, 25, 3, 45, tzinfo=UTC))  # 09:15 IST
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 10)), asyncio.create_task(sleeper("early", 5))]
    await asyncio.sleep(0)
    assert clock.sleepers == 2
    await clock.advance(6)
    assert woke == ["early"]
    await clock.advance(4)
    assert woke == ["early", "late"]
    await asyncio.gather(*tasks)
    assert now_ist(clock).strftime("%H:%M:%S") == "09:15:10"
    assert trading_day(clock) == date(2026, 11, 25)


async def test_fake_clock_sleep_until_and_no_going_back() -> None:
    start = datetime(2026, 11, 25, 3, 45, tzinfo=UTC)
    clock = FakeClock(start)
    task = asyncio.create_task(sleep_until(clock, start + timedelta(minutes=1)))
    await asyncio.sleep(0)
    await clock.set(start + timedelta(minutes=1))
    await asyncio.wait_for(task, 1)
    with pytest.raises(ValueError, match="back in time"):
        await clock.set(start)
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))


async def test_real_clock_is_aware() -> None:
    clock = RealClock()
    assert clock.now().tzinfo is not None
    before = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() >= before


def test_trading_day_is_the_ist_date() -> None:
    # 20:00 UTC is already the next day in IST.
    assert trading_day(FakeClock(datetime(2026, 11, 24, 20, 0, tzinfo=UTC))) == date(2026, 11, 25)


def test_subjects() -> None:
    assert subjects.tick("NSE", "M&M") == "ticks.NSE.M&M"
    assert subjects.order_command("usr_1", "str_2") == "cmd.order.usr_1.str_2"
    assert subjects.event("usr_1", None, "ERROR") == "events.usr_1.-.ERROR"
    assert subjects.strategy_events("usr_1", "str_2") == "events.usr_1.str_2.*"
    assert subjects.order_msg_id("str_2", "2026-11-25", "BUY") == "str_2:2026-11-25:BUY"
    for bad in ("", "a.b", "a b", "*", ">"):
        with pytest.raises(ValueError, match="subject token"):
            subjects.tick("NSE", bad)


def test_messages_round_trip_with_version() -> None:
    tick = Tick(exchange="NSE", symbol="RELIANCE", ltp_paise=250_050, exchange_ts=1, received_ts=2)
    assert decoder(Tick).decode(encode(tick)) == tick
    assert b'"v":1' in encode(tick)
    cmd = OrderCommand(user_id="u", strategy_id="s", trading_day="2026-11-25", action="BUY",
                       reason="schedule", issued_at=3)
    assert decoder(OrderCommand).decode(encode(cmd)) == cmd
    event = Event(id="evt_1", type="ERROR", user_id="u", ts=4, data={"k": 1})
    assert decoder(Event).decode(encode(event)).data == {"k": 1}
    with pytest.raises(msgspec.ValidationError):
        decoder(Tick).decode(b'{"exchange":"NSE","symbol":"X","ltp_paise":1.5,'
                             b'"exchange_ts":1,"received_ts":2}')


def test_error_hierarchy_carries_catalogued_codes() -> None:
    assert ValidationFailed().status == 422
    assert NotFound().code.code == "SYS_002"
    assert Conflict().status == 409
    assert RateLimited(3).details == {"retry_after": 3}
    assert isinstance(Conflict(), AlgoError)
    families = {code.split("_")[0] for code in CATALOG}
    assert families <= {"AUTH", "BRK", "STR", "MKT", "EXE", "VAL", "SYS"}


def test_endpoints_never_show_a_password() -> None:
    assert redact_url("postgresql+asyncpg://algo:s3cret@db:5432/algo") == \
        "postgresql+asyncpg://algo@db:5432/algo"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    endpoints = Endpoints(web_url=None, nats_url="nats://n:4222", nats_monitor_url=None,
                          database_url="postgresql://u:pw@h/d", redis_url="redis://r",
                          started=())
    assert "pw" not in json.dumps(endpoints.public())


def test_error_catalog_doc_is_current() -> None:
    assert (ROOT / "docs" / "errors.md").read_text() == catalog_markdown(), \
        "docs/errors.md is stale: run `algo errors`"


def test_ids_made_in_one_millisecond_still_sort_in_creation_order() -> None:
    from core.ids import id_timestamp_ms, new_id

    ids = [new_id("ntf") for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert id_timestamp_ms(ids[-1]) >= id_timestamp_ms(ids[0])
