"""The trigger's in-memory truth: running strategies, today's schedule and what is done.

Pure and synchronous: every change (a snapshot record, an event, a new day) is applied in
one step with no await in it, so the scheduler never sees a half-applied change. What needs
I/O (is an entry already in Redis's fired set?) is decided by the caller with the
candidates this returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from core.clock import IST
from core.db.enums import OrderAction
from core.strategies.runtime import StrategyRuntime
from core.strategies.strategy_validator import PAPER
from pipeline.trigger import plan
from pipeline.trigger.readiness import needs_broker
from pipeline.trigger.schedule import Entry, Key, Schedule
from pipeline.trigger.upcoming import Upcoming


class Book:
    """Strategies held (newest `rev` wins), the day's schedule, and the keys already done."""

    def __init__(self, *, paper_always_open: bool) -> None:
        self.schedule = Schedule()
        self._paper_always_open = paper_always_open
        self._records: dict[str, StrategyRuntime] = {}
        self._revs: dict[str, int] = {}
        """Newest rev seen per strategy, kept after a stop so an older event cannot revive it."""
        self._moved_at: dict[Key, datetime] = {}
        """When a running strategy's time of this key was changed today (an update)."""
        self._done: set[Key] = set()
        """Fired or reported today; never armed again today."""
        self._held: dict[Key, tuple[Entry, str]] = {}
        """BUYs due but held by the readiness gate, re-checked until their grace ends."""
        self._was_held: dict[Key, str] = {}
        """Why BUYs were held before a newer record re-armed them (for their missed report)."""
        self._abandoned: list[tuple[Entry, str]] = []
        """Held BUYs whose strategy stopped: owed a missed report (take_abandoned)."""
        self.upcoming = Upcoming()
        """The real-broker BUYs still owed, by time (for the readiness loop)."""
        self._armed_brokers: set[str] = set()
        """Connections of BUYs armed since the readiness loop last asked (take_armed)."""
        self.day: date | None = None
        self._market_open = False

    @property
    def held(self) -> int:
        """How many running strategies are held."""
        return len(self._records)

    @property
    def day_ends_at(self) -> datetime | None:
        """The IST midnight that ends the current day."""
        if self.day is None:
            return None
        return datetime.combine(self.day + timedelta(days=1), time(0), IST)

    def newer(self, strategy_id: str, rev: int) -> bool:
        """True if `rev` is newer than anything held or seen for the strategy."""
        return rev > self._revs.get(strategy_id, -1)

    def hold(self, record: StrategyRuntime) -> None:
        """Hold `record` without arming it (the snapshot, before the day begins)."""
        self._records[record.strategy_id] = record
        self._revs[record.strategy_id] = record.rev

    def begin_day(self, day: date, *, market_open: bool, done: Iterable[Key],
                  now: datetime) -> list[Entry]:
        """Start `day`: rebuild the schedule of every held strategy; returns past entries."""
        self.day = day
        self._market_open = market_open
        self.schedule.clear()
        self._moved_at.clear()
        self._held.clear()
        self._was_held.clear()
        self._abandoned.clear()
        self.upcoming.clear()
        self._done = set(done)
        past: list[Entry] = []
        for record in self._records.values():
            past += self._arm(record, now)
        return past

    def arm(self, record: StrategyRuntime, now: datetime,
            changed_at: datetime | None = None) -> list[Entry]:
        """Hold a newer record and (re)schedule its day; returns its entries already past.

        `changed_at` is when the change was made: a time moved by it counts from then.
        """
        old = self._records.get(record.strategy_id)
        self.hold(record)
        for action in plan.ACTIONS:  # the newer record decides: re-judged from scratch
            held = self._held.pop((record.strategy_id, action), None)
            if held is not None:
                self._was_held[(record.strategy_id, action)] = held[1]
        if old is not None and changed_at is not None:
            for (action, was), (_, wall) in zip(plan.wall_times(old), plan.wall_times(record),
                                                strict=True):
                if was != wall:
                    self._moved_at[(record.strategy_id, action)] = changed_at
        return self._arm(record, now) if self.day is not None else []

    def drop(self, strategy_id: str, rev: int) -> None:
        """The strategy no longer runs (as of `rev`): forget it and its entries."""
        self._records.pop(strategy_id, None)
        self._revs[strategy_id] = max(rev, self._revs.get(strategy_id, -1))
        for action in plan.ACTIONS:
            self._discard((strategy_id, action))
            held = self._held.pop((strategy_id, action), None)
            if held is not None:
                self._abandoned.append(held)

    def since(self, entry: Entry) -> datetime | None:
        """When the schedule defining `entry` came to be (start, or the move of its time)."""
        started = plan.started_at(entry.record)
        moved = self._moved_at.get(entry.key)
        if started is None or moved is None:
            return moved or started
        return max(started, moved)

    def is_current(self, entry: Entry) -> bool:
        """True while `entry` is still owed: its record is the one held and it is not done."""
        held = self._records.get(entry.record.strategy_id)
        return held is entry.record and entry.day == self.day and entry.key not in self._done

    def is_done(self, key: Key) -> bool:
        """True if the key was fired or reported today."""
        return key in self._done

    def mark_done(self, key: Key) -> None:
        """The key was fired or reported (or found fired): never arm it again today."""
        self._done.add(key)
        self._held.pop(key, None)
        self._discard(key)

    def hold_back(self, entry: Entry, until: datetime, reason: str) -> bool:
        """Keep a due entry owed, re-checked at `until` (the readiness gate held it); False
        if the strategy changed or stopped meanwhile (its newer record decides)."""
        if self._records.get(entry.record.strategy_id) is not entry.record \
                or entry.day != self.day:
            return False
        self._done.discard(entry.key)
        self._held[entry.key] = (entry, reason)
        self.schedule.put(entry, until)
        return True

    def held_reason(self, key: Key) -> str | None:
        """Why the key's entry is held by the readiness gate (None: it is not)."""
        held = self._held.get(key)
        return None if held is None else held[1]

    def was_held(self, key: Key) -> str | None:
        """Why the key's BUY was held before a newer record re-armed it (None: it was not)."""
        return self._was_held.get(key)

    def take_abandoned(self) -> list[tuple[Entry, str]]:
        """The held BUYs whose strategy stopped since the last call, with why they were held."""
        taken, self._abandoned = self._abandoned, []
        return taken

    def held_brokers(self) -> set[str]:
        """The connections of held BUYs."""
        return {entry.record.broker for entry, _ in self._held.values()}

    def take_armed(self) -> set[str]:
        """The connections of BUYs armed since the last call (the readiness view loads them
        once, whenever their BUY is; then only near their BUY)."""
        taken, self._armed_brokers = self._armed_brokers, set()
        return taken

    def brokers_near(self, until: datetime) -> dict[str, datetime]:
        """The connections with an owed BUY due by `until`, each with its earliest BUY
        (linear in the BUYs near, not in the schedule)."""
        near: dict[str, datetime] = {}
        for at, broker in self.upcoming.near(until).values():
            if broker not in near or at < near[broker]:
                near[broker] = at
        return near

    def trades_today(self, record: StrategyRuntime) -> bool:
        """A paper strategy trades every day when the paper market is always open."""
        return self._market_open or (self._paper_always_open and record.broker == PAPER)

    def _arm(self, record: StrategyRuntime, now: datetime) -> list[Entry]:
        assert self.day is not None
        past: list[Entry] = []
        trades = self.trades_today(record)
        for action, at in plan.times_on(record, self.day):
            key = (record.strategy_id, action)
            if not trades or key in self._done:
                self._discard(key)
                continue
            entry = Entry(day=self.day, at=at, action=action, record=record)
            if at > now:
                self.schedule.put(entry)  # replaces the key's old time in this one step
                if action is OrderAction.BUY and needs_broker(record):
                    self.upcoming.add(key, at, record.broker)
                    self._armed_brokers.add(record.broker)
                else:
                    self.upcoming.discard(key)
            else:
                self._discard(key)
                past.append(entry)
        return past

    def _discard(self, key: Key) -> None:
        self.schedule.discard(key)
        self.upcoming.discard(key)
