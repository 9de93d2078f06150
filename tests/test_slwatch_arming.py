"""Arming against a real Redis: which records and events arm, re-arm or disarm an exit.

The events are built here as the executor and StrategyService publish them (same types and
data keys), and handed to `Arming.on_events` as the follower would.
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from core import redis_keys
from core.clock import FakeClock
from core.db.enums import OrderAction
from core.messages import Event
from core.strategies.runtime import RuntimeStore, StrategyRuntime
from pipeline.slwatch.arming import Arming
from pipeline.slwatch.exits import ExitLedger
from pipeline.slwatch.index import StopIndex
from pipeline.slwatch.partition import Partition, slot_of
from pipeline.slwatch.snapshot import Snapshot

DAY = "2026-11-25"
_ids = itertools.count()


def record(sid: str = "str_1", rev: int = 3, symbol: str = "RELIANCE",
           **changes: Any) -> StrategyRuntime:
    values: dict[str, Any] = dict(
        user_id="usr_1", strategy_id=sid, rev=rev, status="RUNNING", exchange="NSE",
        symbol=symbol, buy_time="09:30:00", sell_time="15:00:00", stop_loss_type="PRICE",
        stop_loss_value="2400", quantity=1, broker="paper", is_simulated=False,
        position="BOUGHT", entry_price="2501.25", position_day=DAY)
    values.update(changes)
    return StrategyRuntime(**values)


def event(kind: str, rev: int, sid: str = "str_1", **data: Any) -> Event:
    return Event(id=f"evt_{next(_ids)}", type=kind, user_id="usr_1", strategy_id=sid, rev=rev,
                 ts=int(datetime(2026, 11, 25, 4, 0, tzinfo=UTC).timestamp() * 1e9),
                 data=data)


def order_event(kind: str, rev: int, action: OrderAction, status: str, position: str,
                **data: Any) -> Event:
    return event(kind, rev, action=action.value, status=status, position=position,
                 trading_day=DAY, **data)


def arming(redis: Redis, partition: Partition | None = None,
           ) -> tuple[Arming, StopIndex[StrategyRuntime], ExitLedger, RuntimeStore]:
    index: StopIndex[StrategyRuntime] = StopIndex()
    ledger = ExitLedger()
    store = RuntimeStore(redis)
    clock = FakeClock(datetime(2026, 11, 25, 4, 0, tzinfo=UTC))
    return (Arming(store, Snapshot(redis), index, ledger, partition or Partition(), clock,
                   logging.getLogger("test.slwatch")), index, ledger, store)


async def breach(index: StopIndex[StrategyRuntime], ledger: ExitLedger,
                 action: OrderAction = OrderAction.SL_EXIT) -> None:
    """A tick breaches str_1 and its exit goes out, as the watcher does it."""
    assert [b.strategy_id for b in index.on_tick("ticks.NSE.RELIANCE", 1)] == ["str_1"]
    ledger.begin("str_1", DAY, action)


async def test_newer_records_win_and_older_ones_never_revive(redis: Redis) -> None:
    arm, index, _, store = arming(redis)
    await store.put(record(rev=3))
    assert await arm.load() == 1
    await store.put(record(rev=5, stop_loss_value="2450"))
    await arm.on_events([event("STRATEGY_UPDATED", 5)])
    assert index.stop_of("str_1") == 245_000
    assert not arm.apply(record(rev=4, stop_loss_value="2300"))
    assert index.stop_of("str_1") == 245_000
    await store.put(record(rev=6, position="SOLD"))
    await arm.on_events([event("ORDER_EXECUTED", 6)])
    assert "str_1" not in index
    assert not arm.apply(record(rev=5))
    assert "str_1" not in index


async def test_a_record_of_another_partition_is_not_armed(redis: Redis) -> None:
    mine = next(s for s in ("RELIANCE", "INFY", "TCS") if slot_of("NSE", s, 2) == 0)
    theirs = next(s for s in ("RELIANCE", "INFY", "TCS") if slot_of("NSE", s, 2) == 1)
    arm, index, _, store = arming(redis, Partition(0, 2))
    await store.put(record("str_a", symbol=mine))
    await store.put(record("str_b", symbol=theirs))
    await arm.load()
    assert index.strategy_ids() == ["str_a"]


async def test_records_wait_while_an_exit_is_in_flight(redis: Redis) -> None:
    arm, index, ledger, store = arming(redis)
    await store.put(record(rev=3))
    await arm.load()
    await breach(index, ledger)
    await store.put(record(rev=4, stop_loss_value="2450"))  # the user edits meanwhile
    await arm.on_events([event("STRATEGY_UPDATED", 4)])
    assert "str_1" not in index
    assert await arm.resync() == 0
    # The exit is rejected: the latest record is armed, the next exit is a SQUARE_OFF.
    await store.put(record(rev=5, stop_loss_value="2450"))
    await arm.on_events([order_event("ORDER_REJECTED", 5, OrderAction.SL_EXIT, "REJECTED",
                                     "BOUGHT")])
    assert index.stop_of("str_1") == 245_000
    assert ledger.choose("str_1", DAY, "stop_loss") is OrderAction.SQUARE_OFF


async def test_a_skipped_exit_rearms_at_the_same_rev(redis: Redis) -> None:
    arm, index, ledger, store = arming(redis)
    await store.put(record(rev=3))
    await arm.load()
    await breach(index, ledger)
    # Skipped (the kill switch was on): no rev bump, the position is still open.
    await arm.on_events([order_event("ORDER_REJECTED", 3, OrderAction.SL_EXIT, "SKIPPED",
                                     "BOUGHT", reason="trading halted: global")])
    assert "str_1" in index


async def test_a_skip_behind_another_live_exit_waits_for_that_exit(redis: Redis) -> None:
    arm, index, ledger, store = arming(redis)
    await store.put(record(rev=3))
    await arm.load()
    await breach(index, ledger)
    await arm.on_events([order_event("ORDER_REJECTED", 3, OrderAction.SL_EXIT, "SKIPPED",
                                     "BOUGHT", reason="exit SELL already pending")])
    assert "str_1" not in index
    assert not ledger.in_flight("str_1")
    # The SELL is rejected: the position is open again and protected again.
    await store.put(record(rev=4))
    await arm.on_events([order_event("ORDER_REJECTED", 4, OrderAction.SELL, "REJECTED",
                                     "BOUGHT")])
    assert "str_1" in index


async def test_the_resync_arms_what_no_event_announced(redis: Redis) -> None:
    arm, index, _, store = arming(redis)
    await store.put(record(rev=3, position="NONE", entry_price=None))
    await arm.load()
    assert len(index) == 0
    await store.put(record(rev=4))
    assert await arm.resync() == 1
    assert index.stop_of("str_1") == 240_000
    assert await arm.resync() == 0


async def test_a_stopped_strategy_keeps_its_exit_while_the_position_is_open(
        redis: Redis) -> None:
    arm, index, ledger, store = arming(redis)
    await store.put(record(rev=3))
    await arm.load()
    await store.drop("usr_1", "str_1", 4)
    await arm.on_events([event("STRATEGY_STOPPED", 4, status="STOPPED", square_off=True)])
    assert "str_1" in index
    assert ledger.choose("str_1", DAY, "target") is OrderAction.TARGET_EXIT
    assert ledger.used("str_1", DAY) == {OrderAction.SQUARE_OFF}
    await arm.on_events([order_event("ORDER_REJECTED", 5, OrderAction.SQUARE_OFF, "REJECTED",
                                     "BOUGHT")])
    assert "str_1" in index
    # Our SL exit is rejected too, and that third failure stops the strategy (ERROR) with
    # a STRATEGY_STOPPED of the same rev: the position is still open, so it is re-armed.
    await breach(index, ledger)
    await arm.on_events([
        order_event("ORDER_REJECTED", 6, OrderAction.SL_EXIT, "REJECTED", "BOUGHT"),
        event("STRATEGY_STOPPED", 6, status="ERROR", reason="3 consecutive order failures")])
    assert "str_1" in index
    assert ledger.choose("str_1", DAY, "stop_loss") is OrderAction.TARGET_EXIT
    await arm.on_events([order_event("ORDER_EXECUTED", 7, OrderAction.SQUARE_OFF, "FILLED",
                                     "SOLD")])
    assert "str_1" not in index


async def test_a_stop_without_a_position_disarms(redis: Redis) -> None:
    arm, index, _, store = arming(redis)
    await store.put(record(rev=3))
    await arm.load()
    await store.drop("usr_1", "str_1", 4)
    await arm.on_events([event("STRATEGY_STOPPED", 4, status="STOPPED", square_off=False)])
    assert "str_1" not in index
    assert arm.rev_of("str_1") == 4


async def test_the_snapshot_is_read_page_by_page_and_only_newer_records_apply(
        redis: Redis) -> None:
    store = RuntimeStore(redis)
    await store.put_many([record(f"str_{i}", rev=3, stop_loss_value=str(2000 + i))
                          for i in range(25)])
    # A member whose record is gone is skipped.
    await redis.sadd(redis_keys.RUNNING_STRATEGIES, "usr_1:str_gone")
    snapshot = Snapshot(redis, page=4)
    pages = [page async for page in snapshot.pages()]
    assert len(pages) > 1
    heads = {snapshot.head(raw).strategy_id for page in pages for raw in page}
    assert heads == {f"str_{i}" for i in range(25)}
    index: StopIndex[StrategyRuntime] = StopIndex()
    arm = Arming(store, snapshot, index, ExitLedger(), Partition(),
                 FakeClock(datetime(2026, 11, 25, 4, 0, tzinfo=UTC)),
                 logging.getLogger("test.slwatch"))
    assert await arm.load() == 25
    assert index.stop_of("str_7") == 200_700
    await store.put(record("str_7", rev=4, stop_loss_value="2100"))
    assert await arm.resync() == 1
    assert index.stop_of("str_7") == 210_000
    assert await arm.resync() == 0
