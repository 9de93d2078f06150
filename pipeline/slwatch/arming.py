"""Keeping the index armed: the Redis snapshot, the events that follow it, and a resync.

Start-up is gap-free as in the trigger: follow the events first, then read the snapshot;
an event re-reads its strategy's record (the record, not the event, has the levels) and is
applied only when the record's `rev` is newer than the one held. Every few seconds the
running strategies are re-read and any newer record applied, so a position whose event
was never published (the executor crashed between its commit and its event, DESIGN §4
step 6) is armed anyway.

While an exit is in flight its strategy stays disarmed and records are not applied; once
its order's outcome is seen the record is read again: a filled exit leaves the position
closed, a rejected or skipped one re-arms it (at the same `rev` if need be) so the next
breaching tick retries with the next action of the exit ladder. Only a skip because another
exit of the day is live waits for that exit's own outcome (a newer `rev`).

A strategy that stops keeps no record in Redis; its armed exit stays armed while its
events say the position is BOUGHT (an open position must stay protected) and leaves when
they say otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Final

from core import subjects
from core.clock import IST, Clock
from core.db.enums import OrderAction, OrderStatus, Position
from core.events import EventType
from core.messages import Event
from core.strategies.runtime import RuntimeStore, StrategyRuntime
from pipeline.retry import retry_forever
from pipeline.slwatch.exits import WATCHED_EXITS, ExitLedger
from pipeline.slwatch.index import StopIndex
from pipeline.slwatch.levels import LevelError, levels_of
from pipeline.slwatch.partition import Partition
from pipeline.slwatch.snapshot import Snapshot

FOLLOWED: Final = (EventType.ORDER_EXECUTED, EventType.ORDER_REJECTED,
                   EventType.STRATEGY_STARTED, EventType.STRATEGY_UPDATED,
                   EventType.STRATEGY_STOPPED)
_ORDER_EVENTS: Final = frozenset({EventType.ORDER_EXECUTED.value, EventType.ORDER_REJECTED.value})
READ_CONCURRENCY: Final = 32
PAGE_PAUSE_S: Final = 0.005
"""Pause between two pages of a resync (real time: it spreads CPU, it is no schedule): a
pass over 100,000 records (500 pages) trickles over ~3 s instead of keeping Redis and this
process busy for half a second at a time, during which, on two cores, the ticks wait."""
_ANOTHER_EXIT_LIVE: Final = "exit "
"""How the executor's skip reason starts when another exit of the day is live."""


class Arming:
    """Applies runtime records to the index, newest `rev` first."""

    def __init__(self, store: RuntimeStore, snapshot: Snapshot,
                 index: StopIndex[StrategyRuntime],
                 ledger: ExitLedger, partition: Partition, clock: Clock,
                 log: logging.Logger, *, page_pause_s: float = PAGE_PAUSE_S) -> None:
        self._store = store
        self._page_pause_s = page_pause_s
        self._snapshot = snapshot
        self._index = index
        self._ledger = ledger
        self._partition = partition
        self._clock = clock
        self._log = log
        self._revs: dict[str, int] = {}
        """Newest rev applied per strategy (kept after a disarm: an older one cannot revive)."""
        self._last: dict[str, StrategyRuntime] = {}
        """The record of each open position this replica protects."""
        self._lock = asyncio.Lock()
        self.resyncs = 0
        self.resync_applied = 0
        """Records the resync found newer than what the events had brought so far."""

    def rev_of(self, strategy_id: str) -> int | None:
        """The newest rev applied for a strategy."""
        return self._revs.get(strategy_id)

    # ---- the three sources -------------------------------------------------------------

    async def load(self) -> int:
        """Apply the snapshot of every running strategy; returns how many are armed."""
        async for page in self._snapshot.pages():
            async with self._lock:
                for raw in page:
                    self.apply(self._snapshot.record(raw))
        return len(self._index)

    async def resync(self) -> int:
        """Re-read every running strategy and apply the newer records; returns how many.

        A page at a time, the lock held per page: between pages the ticks and events go
        on. A record whose `rev` is not newer than the one applied is not even decoded
        (`apply` would ignore it), so a pass over 100,000 unchanged records is cheap.
        """
        applied = 0
        async for page in self._snapshot.pages():
            async with self._lock:
                for raw in page:
                    head = self._snapshot.head(raw)
                    if head.rev > self._revs.get(head.strategy_id, -1):
                        applied += self.apply(self._snapshot.record(raw))
            await asyncio.sleep(self._page_pause_s)
        self.resyncs += 1
        if applied:
            # Usually an event still on its way; after an executor crash, its only carrier.
            self.resync_applied += applied
            self._log.info("resync applied %d record(s) ahead of their events", applied)
        return applied

    async def on_events(self, events: list[Event]) -> None:
        """Apply a batch of followed events (the follower's handler)."""
        try:
            async with self._lock:
                await self._apply_events(events)
        except Exception:  # noqa: BLE001 — logged with its traceback
            # Only a bug gets here (outages are retried); the resync repairs the index.
            self._log.exception("events could not be applied",
                                extra={"events": [e.id for e in events][:20]})

    # ---- applying ----------------------------------------------------------------------

    def apply(self, record: StrategyRuntime, *, force: bool = False) -> bool:
        """Apply a record newer than the one held (or as new, with `force`); True if applied."""
        sid = record.strategy_id
        held = self._revs.get(sid, -1)
        if record.rev < held or (record.rev == held and not force):
            return False
        if self._ledger.in_flight(sid):
            return False  # read again once the exit's outcome is known
        self._revs[sid] = record.rev
        if not self._partition.owns(record.exchange, record.symbol):
            return self._forget(sid)  # another replica's symbol (or it just moved there)
        self._arm(record)
        return True

    def _arm(self, record: StrategyRuntime) -> None:
        sid = record.strategy_id
        try:
            levels = levels_of(record)
        except LevelError as exc:
            # Keep whatever was armed for this position: better an old stop than none.
            self._log.error("stop-loss levels unusable; keeping the previous ones: %s", exc,
                            extra={"strategy_id": sid, "rev": record.rev})
            return
        if levels is None:
            self._forget(sid)
            return
        try:
            instrument = subjects.tick(record.exchange, record.symbol)
        except ValueError:
            self._log.error("unwatchable symbol", extra={"strategy_id": sid,
                                                         "symbol": record.symbol})
            return
        self._index.arm(instrument, sid, levels, record)
        self._last[sid] = record

    def _forget(self, strategy_id: str) -> bool:
        self._last.pop(strategy_id, None)
        return self._index.disarm(strategy_id)

    async def _apply_events(self, events: list[Event]) -> None:
        latest: dict[str, Event] = {}
        settled: set[str] = set()
        forced: set[str] = set()
        said: dict[str, bool] = {}  # the batch's last word on whether a position is open
        for event in events:
            sid = event.strategy_id
            if not sid:
                continue
            self._note(event, sid, settled, forced)
            bought = _bought(event)
            if bought is not None:
                said[sid] = bought
            before = latest.get(sid)
            if before is None or event.rev >= before.rev:
                latest[sid] = event
        wanted = [e for sid, e in latest.items()
                  if e.rev > self._revs.get(sid, -1) or sid in settled]
        if not wanted:
            return
        records = await retry_forever(lambda: self._read(wanted), clock=self._clock,
                                      log=self._log, what="re-reading strategy records")
        for event, record in zip(wanted, records, strict=True):
            sid = event.strategy_id
            assert sid is not None
            if record is not None:
                self.apply(record, force=sid in forced)
            else:
                self._absent(event, sid, force=sid in forced, bought=said.get(sid))

    def _note(self, event: Event, sid: str, settled: set[str], forced: set[str]) -> None:
        """What an event says about exit actions: used ones, and the outcome of ours."""
        data = event.data
        if event.type in _ORDER_EVENTS:
            action = _exit_action(data.get("action"))
            day = data.get("trading_day")
            if action is None or not isinstance(day, str):
                return
            self._ledger.mark_used(sid, day, action)
            if self._ledger.settle(sid, day, action):
                settled.add(sid)
                another_live = data.get("status") == OrderStatus.SKIPPED.value \
                    and str(data.get("reason") or "").startswith(_ANOTHER_EXIT_LIVE)
                if event.type == EventType.ORDER_REJECTED.value and not another_live:
                    forced.add(sid)
        elif event.type == EventType.STRATEGY_STOPPED.value and data.get("square_off"):
            day = datetime.fromtimestamp(event.ts / 1e9, IST).date().isoformat()
            self._ledger.mark_used(sid, day, OrderAction.SQUARE_OFF)

    def _absent(self, event: Event, sid: str, *, force: bool, bought: bool | None) -> None:
        """No record in Redis (the strategy is not running): the events decide."""
        held = self._revs.get(sid, -1)
        if event.rev < held or (event.rev == held and not force) \
                or self._ledger.in_flight(sid):
            return
        self._revs[sid] = event.rev
        if bought is None and force:
            bought = True  # our exit was rejected: the position is still open
        if bought is False:
            self._forget(sid)
        elif bought and sid not in self._index:
            record = self._last.get(sid)
            if record is not None and self._partition.owns(record.exchange, record.symbol):
                self._arm(record)

    async def _read(self, events: list[Event]) -> list[StrategyRuntime | None]:
        slots = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(event: Event) -> StrategyRuntime | None:
            async with slots:
                return await self._store.get(event.user_id, event.strategy_id or "")

        return list(await asyncio.gather(*(one(e) for e in events)))


def _exit_action(value: Any) -> OrderAction | None:
    try:
        action = OrderAction(value)
    except ValueError:
        return None
    return action if action in WATCHED_EXITS else None


def _bought(event: Event) -> bool | None:
    """Whether the event says the position is open; None when it does not say."""
    if event.type in _ORDER_EVENTS and "position" in event.data:
        return bool(event.data["position"] == Position.BOUGHT.value)
    if event.type == EventType.STRATEGY_STOPPED.value and "square_off" in event.data:
        return bool(event.data["square_off"])
    return None
