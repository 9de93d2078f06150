"""Keeping the interest current: the Redis snapshot, the events after it, and a resync.

Start-up is gap-free as in the trigger: follow the events first, then read the snapshot.
An event re-reads its strategy's record (announcements put the record before publishing,
so an ORDER_EXECUTED finds the new position) and applies it when its `rev` is newer. A
strategy without a running record is dropped unless the events say its position is still
open. Every few seconds the running strategies are re-read, so a strategy whose event was
never published (a crash between commit and publish) is still quoted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from nats.js import JetStreamContext
from redis.asyncio import Redis

from core import subjects
from core.aio import check_cancelled
from core.clock import Clock
from core.db.enums import Position, StrategyStatus
from core.events import EventType
from core.messages import Event
from core.strategies.runtime import RuntimeStore, StrategyRuntime
from core.strategies.strategy_validator import PAPER
from pipeline.feed.interest import Holding, Interest, holding_of
from pipeline.feed.sources import Instrument
from pipeline.follower import EventFollower
from pipeline.retry import retry_forever

FOLLOWED: Final = (EventType.STRATEGY_STARTED, EventType.STRATEGY_UPDATED,
                   EventType.STRATEGY_STOPPED, EventType.ORDER_EXECUTED)
RESYNC_INTERVAL_S: Final = 5.0
READ_CONCURRENCY: Final = 32

OnChange = Callable[[set[Instrument], set[Instrument]], Awaitable[None]]
"""Called with (added, removed) instruments after every change of the needed set."""


class InterestTracker:
    """Applies snapshot, events and resyncs to an `Interest`, and reports the changes."""

    def __init__(self, js: JetStreamContext, redis: Redis, clock: Clock,
                 log: logging.Logger, on_change: OnChange, *,
                 resync_interval_s: float = RESYNC_INTERVAL_S) -> None:
        self.interest = Interest()
        self._store = RuntimeStore(redis)
        self._follower = EventFollower(js, log, FOLLOWED)
        self._clock = clock
        self._log = log
        self._on_change = on_change
        self._resync_interval_s = resync_interval_s
        self._lock = asyncio.Lock()
        self._told: set[Instrument] = set()
        self.resync_applied = 0
        """Records a resync found newer than what events had brought (each a missed event)."""

    async def follow(self) -> None:
        """Start receiving events (before `load`: no change falls between)."""
        await self._follower.subscribe()

    async def load(self) -> None:
        """Apply the snapshot of every running strategy."""
        async with self._lock:
            for record in await self._store.get_all_active_strategies():
                self._hold(record)
            await self._report()

    async def run_events(self) -> None:
        """Apply the followed events for ever (a task)."""
        await self._follower.run(self.on_events)

    async def run_resync(self) -> None:
        """Re-read the running strategies every few seconds for ever (a task)."""
        while True:
            await self._clock.sleep(self._resync_interval_s)
            try:
                await self.resync()
            except Exception as exc:  # noqa: BLE001 — Redis down: try again next time
                self._log.warning("interest resync failed: %s", exc)
            check_cancelled()

    async def close(self) -> None:
        """Stop following events."""
        await self._follower.close()

    async def resync(self) -> int:
        """Apply every running record newer than the one held; returns how many."""
        async with self._lock:
            records = await self._store.get_all_active_strategies()
            applied = sum(self._hold(record) for record in records)
            await self._report()
        if applied:
            self.resync_applied += applied
        return applied

    async def on_events(self, events: list[Event]) -> None:
        """Apply a batch of followed events (the follower's handler)."""
        try:
            async with self._lock:
                await self._apply(events)
                await self._report()
        except Exception:  # noqa: BLE001 — logged with its traceback
            # Only a bug gets here (outages are retried); the resync repairs the interest.
            self._log.exception("strategy events could not be applied",
                                extra={"events": [e.id for e in events][:20]})

    async def _apply(self, events: list[Event]) -> None:
        latest: dict[str, Event] = {}
        for event in events:
            sid = event.strategy_id
            if sid and self.interest.newer(sid, event.rev) \
                    and (sid not in latest or event.rev >= latest[sid].rev):
                latest[sid] = event
        if not latest:
            return
        wanted = list(latest.values())
        records = await retry_forever(lambda: self._read(wanted), clock=self._clock,
                                      log=self._log, what="re-reading strategy records")
        for event, record in zip(wanted, records, strict=True):
            if record is not None and record.status == StrategyStatus.RUNNING.value \
                    and record.rev >= event.rev:
                self._hold(record)
            else:
                self._absent(event)

    def _hold(self, record: StrategyRuntime) -> bool:
        try:
            subjects.tick(record.exchange, record.symbol)
        except ValueError:
            self._log.error("unquotable symbol", extra={"strategy_id": record.strategy_id,
                                                       "symbol": record.symbol})
            return False
        return self.interest.hold(holding_of(record))

    def _absent(self, event: Event) -> None:
        """No running record: keep the strategy only while its position is open."""
        sid = event.strategy_id
        assert sid is not None
        held = self.interest.get(sid)
        bought = _says_bought(event)
        if bought is None:
            bought = held is not None and held.bought
        instrument = held.instrument if held is not None else _instrument_of(event)
        if bought and instrument is not None:
            self.interest.hold(Holding(
                user_id=event.user_id, strategy_id=sid, instrument=instrument, rev=event.rev,
                bought=True, paper=held.paper if held is not None
                else event.data.get("broker") == PAPER))
        else:
            self.interest.drop(sid, event.rev)

    async def _read(self, events: list[Event]) -> list[StrategyRuntime | None]:
        slots = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(event: Event) -> StrategyRuntime | None:
            async with slots:
                return await self._store.get(event.user_id, event.strategy_id or "")

        return list(await asyncio.gather(*(one(e) for e in events)))

    async def _report(self) -> None:
        now = set(self.interest.instruments)
        added, removed = now - self._told, self._told - now
        if added or removed:
            self._told = now
            await self._on_change(added, removed)


def _says_bought(event: Event) -> bool | None:
    """Whether the event says the position is open; None when it does not say."""
    data = event.data
    if event.type == EventType.ORDER_EXECUTED.value and "position" in data:
        return bool(data["position"] == Position.BOUGHT.value)
    if event.type == EventType.STRATEGY_STOPPED.value and "square_off" in data:
        return bool(data["square_off"])
    return None


def _instrument_of(event: Event) -> Instrument | None:
    exchange, symbol = event.data.get("exchange"), event.data.get("symbol")
    if isinstance(exchange, str) and isinstance(symbol, str):
        try:
            subjects.tick(exchange, symbol)
        except ValueError:
            return None
        return exchange, symbol
    return None
