"""The trigger's pure parts: the heap, the book of strategies, the verdicts, the wake-up."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from core.clock import IST, FakeClock
from core.db.enums import OrderAction
from core.strategies.runtime import StrategyRuntime
from pipeline.trigger.book import Book
from pipeline.trigger.missed import describe
from pipeline.trigger.plan import Verdict, verdict
from pipeline.trigger.schedule import Entry, Schedule
from pipeline.trigger.wakeup import wait_until

DAY = date(2026, 11, 25)
BUY, SELL = OrderAction.BUY, OrderAction.SELL


def ist(hh: int, mm: int, ss: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=IST)


def record(sid: str = "str_a", buy: str = "09:30:00", sell: str = "09:45:00", rev: int = 1,
           broker: str = "paper", started: datetime | None = None) -> StrategyRuntime:
    return StrategyRuntime(
        user_id="usr_a", strategy_id=sid, rev=rev, status="RUNNING", exchange="NSE",
        symbol="INFY", buy_time=buy, sell_time=sell, stop_loss_type="PERCENT",
        stop_loss_value="1", quantity=2, broker=broker, is_simulated=False, position="NONE",
        started_at=(started or ist(9, 0)).isoformat())


def test_schedule_replaces_in_one_step_and_pops_in_order() -> None:
    schedule = Schedule()
    a, b = record("str_a"), record("str_b")
    schedule.put(Entry(DAY, ist(9, 30), BUY, a))
    schedule.put(Entry(DAY, ist(9, 31), BUY, b))
    assert schedule.next_at() == ist(9, 30)
    schedule.put(Entry(DAY, ist(9, 40), BUY, a))  # a's BUY moves: the 09:30 item is stale
    assert len(schedule) == 2
    assert schedule.next_at() == ist(9, 31)
    assert [(e.key, e.at) for e in schedule.pop_due(ist(9, 35))] == [
        (("str_b", BUY), ist(9, 31))]
    due = schedule.pop_due(ist(9, 40))
    assert [(e.key, e.at) for e in due] == [(("str_a", BUY), ist(9, 40))]
    assert schedule.next_at() is None and len(schedule) == 0


def test_schedule_discard_and_clear() -> None:
    schedule = Schedule()
    schedule.put(Entry(DAY, ist(9, 30), BUY, record()))
    schedule.put(Entry(DAY, ist(9, 45), SELL, record()))
    schedule.discard(("str_a", BUY))
    assert schedule.next_at() == ist(9, 45)
    assert schedule.pop_due(ist(9, 44)) == []
    schedule.clear()
    assert schedule.pop_due(ist(23, 0)) == []


def test_pop_due_ignores_stale_items_between_live_ones() -> None:
    schedule = Schedule()
    rec = record()
    for minute in (30, 31, 32):
        schedule.put(Entry(DAY, ist(9, minute), BUY, rec))
    assert [e.at for e in schedule.pop_due(ist(10, 0))] == [ist(9, 32)]


def test_verdicts() -> None:
    at = ist(9, 30)
    assert verdict(at, ist(9, 30, 30), since=ist(9, 0), fired=False, grace_s=60) is Verdict.FIRE
    assert verdict(at, ist(9, 31), since=ist(9, 0), fired=False, grace_s=60) is Verdict.FIRE
    assert verdict(at, ist(9, 31, 1), since=ist(9, 0), fired=False, grace_s=60) is Verdict.MISSED
    assert verdict(at, ist(9, 40), since=ist(9, 0), fired=True, grace_s=60) is Verdict.NOT_DUE
    assert verdict(at, ist(9, 40), since=ist(9, 31), fired=False,
                   grace_s=60) is Verdict.NOT_DUE
    # Started exactly at the entry's time: the strategy was running then, so it is owed.
    assert verdict(at, ist(9, 30, 5), since=at, fired=False, grace_s=60) is Verdict.FIRE


def test_book_arms_replaces_and_drops() -> None:
    book = Book(paper_always_open=False)
    book.hold(record(rev=3))
    assert book.begin_day(DAY, market_open=True, done=[], now=ist(9, 29)) == []
    assert book.schedule.next_at() == ist(9, 30)
    assert not book.newer("str_a", 3) and book.newer("str_a", 4)

    # A newer record moves the BUY; the SELL is re-put at the same time.
    moved = record(buy="09:35:00", rev=4)
    assert book.arm(moved, ist(9, 29), changed_at=ist(9, 29)) == []
    assert [(e.action, e.at) for e in book.schedule.pop_due(ist(9, 45))] == [
        (BUY, ist(9, 35)), (SELL, ist(9, 45))]

    book.arm(record(rev=5), ist(9, 29))
    book.drop("str_a", 6)
    assert book.schedule.next_at() is None and book.held == 0
    assert not book.newer("str_a", 5)  # the tombstone keeps an older start from reviving it


def test_book_past_entries_and_their_since() -> None:
    book = Book(paper_always_open=False)
    book.begin_day(DAY, market_open=True, done=[("str_a", SELL)], now=ist(9, 31))
    past = book.arm(record(started=ist(9, 0)), ist(9, 31))
    assert [(e.action, e.at) for e in past] == [(BUY, ist(9, 30))]  # SELL is done already
    assert book.since(past[0]) == ist(9, 0)
    assert book.is_current(past[0])
    # The BUY time moved at 09:32 to 09:31 (already past): the move counts from 09:32.
    past = book.arm(record(buy="09:31:00", rev=2, started=ist(9, 0)), ist(9, 32),
                    changed_at=ist(9, 32))
    assert book.since(past[0]) == ist(9, 32)
    assert verdict(past[0].at, ist(9, 32), since=book.since(past[0]), fired=False,
                   grace_s=60) is Verdict.NOT_DUE
    book.mark_done(("str_a", BUY))
    assert not book.is_current(past[0])


def test_book_trading_days() -> None:
    closed = Book(paper_always_open=True)
    closed.hold(record("str_paper"))
    closed.hold(record("str_real", broker="brk_x"))
    closed.begin_day(DAY, market_open=False, done=[], now=ist(0, 0))
    assert {e.record.strategy_id for e in closed.schedule.pop_due(ist(23, 0))} == {"str_paper"}

    strict = Book(paper_always_open=False)
    strict.hold(record("str_paper"))
    strict.begin_day(DAY, market_open=False, done=[], now=ist(0, 0))
    assert strict.schedule.next_at() is None
    # The next day is a new day: nothing carried over, everything re-armed.
    strict.begin_day(DAY + timedelta(days=1), market_open=True, done=[], now=ist(0, 0))
    assert strict.schedule.next_at() == ist(9, 30, day=DAY + timedelta(days=1))
    assert strict.day_ends_at == datetime(2026, 11, 27, tzinfo=IST)


def test_missed_text() -> None:
    rec = record()
    title, body = describe(Entry(DAY, ist(9, 45), SELL, rec), 125.0, 60)
    assert title == "Missed SELL — NSE:INFY"
    assert "09:45:00 IST on 2026-11-25" in body and "125 s late" in body
    assert "square it off" in body
    _, buy_body = describe(Entry(DAY, ist(9, 30), BUY, rec), 61, 60)
    assert "square" not in buy_body


async def test_wait_until_wakes_on_time_or_when_told() -> None:
    clock = FakeClock(ist(9, 29))
    wake = asyncio.Event()
    waiter = asyncio.create_task(wait_until(clock, ist(9, 30), wake))
    await clock.advance(59)
    assert not waiter.done()
    await clock.advance(1)
    await asyncio.wait_for(waiter, 1)

    waiter = asyncio.create_task(wait_until(clock, ist(10, 0), wake))
    await asyncio.sleep(0)
    wake.set()
    await asyncio.wait_for(waiter, 1)
    assert clock.sleepers == 0  # the pending clock sleep was cancelled, not left behind

    # Time that passes before the waiter first runs is not slept again.
    wake.clear()
    waiter = asyncio.create_task(wait_until(clock, clock.now() + timedelta(seconds=10), wake))
    await clock.advance(10)
    await asyncio.wait_for(waiter, 1)
