"""One instrument's armed exits: the sorted structures behind `StopIndex`. Pure: no I/O.

    stops     every entry, keyed by its fixed stop             breach: stop >= LTP
    targets   entries with a target, keyed by -target          breach: -target >= -LTP
    group     trailing entries sharing the book's high H,      breach: H*f >= LTP
              sorted by their factor f = 1 - pct/100
    lagging   trailing entries with a high of their own (armed since H was set, or above it)

`stops` and `targets` are parallel lists sorted by key, so the breached entries are the tail
from `bisect_left(keys, threshold)`: O(log n) to find them, O(k) to cut them off, and one
comparison (the last key) when nothing is breached.

A trailing stop is floor(high * f) and never moves down. Entries of the group all have the
same high H, so their order by f is their order by stop whatever H is: a new high only
sets H (O(1)), and the breached ones are again a tail. An entry lags until a tick brings its
own high to H (and H gives it at least the stop it had); only lagging entries are touched
one by one, and only when a tick rises above the lowest of their highs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from fractions import Fraction
from typing import Final, Generic, TypeVar

from pipeline.slwatch.levels import Levels, Trail

R = TypeVar("R")
NONE_ABOVE: Final = -1
"""A stop no tick can reach (prices are positive)."""
NO_HIGH: Final = 1 << 62
"""A high no tick exceeds."""


class Entry(Generic[R]):
    """One armed strategy's exits."""

    __slots__ = ("factor", "grouped", "high", "instrument", "position_key", "ref", "stop",
                 "strategy_id", "target", "trail", "trail_stop")

    def __init__(self, strategy_id: str, instrument: str, ref: R, levels: Levels,
                 high: int) -> None:
        self.strategy_id = strategy_id
        self.instrument = instrument
        self.ref = ref
        self.stop = levels.stop_paise
        self.target = levels.target_paise
        self.trail: Trail | None = levels.trail
        self.factor = Fraction(0) if self.trail is None else Fraction(self.trail.num,
                                                                      self.trail.den)
        self.position_key = levels.position_key
        self.high = high
        """Its own high while lagging (a grouped entry's high is its book's)."""
        self.trail_stop = 0
        """Its own trailing stop while lagging."""
        if self.trail is not None:
            self.trail_stop = max(levels.trail_start_paise,
                                  self.trail.stop_for(high) if high else 0)
        self.grouped = False


class Ladder(Generic[R]):
    """Entries sorted by an integer key; `take_from(t)` removes those with key >= t."""

    __slots__ = ("items", "keys")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.items: list[Entry[R]] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: int, item: Entry[R]) -> None:
        """Insert after the entries of equal key."""
        i = bisect_right(self.keys, key)
        self.keys.insert(i, key)
        self.items.insert(i, item)

    def discard(self, key: int, item: Entry[R]) -> None:
        """Remove this very entry if the ladder still holds it."""
        keys, items = self.keys, self.items
        i = bisect_left(keys, key)
        while i < len(keys) and keys[i] == key:
            if items[i] is item:
                del keys[i]
                del items[i]
                return
            i += 1

    def take_from(self, threshold: int) -> Sequence[Entry[R]]:
        """Remove and return the entries whose key is at or above `threshold`."""
        keys = self.keys
        if not keys or keys[-1] < threshold:
            return ()
        i = bisect_left(keys, threshold)
        taken = self.items[i:]
        del keys[i:]
        del self.items[i:]
        return taken


class Book(Generic[R]):
    """One instrument's exits."""

    __slots__ = ("group", "group_factors", "group_top", "high", "lag_low_high", "lag_top",
                 "lagging", "stops", "targets")

    def __init__(self) -> None:
        self.stops: Ladder[R] = Ladder()
        self.targets: Ladder[R] = Ladder()
        self.group: list[Entry[R]] = []
        self.group_factors: list[Fraction] = []
        self.high = 0
        """H: the high every grouped entry shares."""
        self.group_top = NONE_ABOVE
        """The highest trailing stop of the group (its last entry's)."""
        self.lagging: list[Entry[R]] = []
        self.lag_low_high = NO_HIGH
        self.lag_top = NONE_ABOVE

    # ---- entries -----------------------------------------------------------------------

    def empty(self) -> bool:
        """True when no entry is left (every entry is in `stops`)."""
        return not self.stops

    def add(self, entry: Entry[R]) -> None:
        """Arm an entry: into the group if it has the group's high, else lagging."""
        self.stops.add(entry.stop, entry)
        if entry.target is not None:
            self.targets.add(-entry.target, entry)
        trail = entry.trail
        if trail is None:
            return
        if self.group and entry.high == self.high \
                and trail.stop_for(self.high) >= entry.trail_stop:
            self._join(entry)
        else:
            self.lagging.append(entry)
            self._refresh_lagging()

    def remove(self, entry: Entry[R]) -> None:
        """Take an entry out of whatever still holds it (a take_* may have already)."""
        self.stops.discard(entry.stop, entry)
        if entry.target is not None:
            self.targets.discard(-entry.target, entry)
        if entry.grouped:
            self._leave_group(entry)
        elif entry.trail is not None and entry in self.lagging:
            self.lagging.remove(entry)
            self._refresh_lagging()

    def trail_stop_of(self, entry: Entry[R]) -> int:
        """An entry's trailing stop now (0 without a trail)."""
        if entry.grouped:
            assert entry.trail is not None
            return entry.trail.stop_for(self.high)
        return entry.trail_stop

    def high_of(self, entry: Entry[R]) -> int:
        """The highest price a trailing entry has seen."""
        return self.high if entry.grouped else entry.high

    # ---- ticks -------------------------------------------------------------------------

    def needs_follow(self, ltp: int) -> bool:
        """True if the tick moves some trailing stop (or H)."""
        return ltp > self.high or ltp > self.lag_low_high

    def follow(self, ltp: int) -> None:
        """A tick above H or above some lagging high: the stops under it follow."""
        if ltp > self.lag_low_high:
            for entry in self.lagging:
                if ltp > entry.high:
                    entry.high = ltp
                    assert entry.trail is not None
                    entry.trail_stop = max(entry.trail_stop, entry.trail.stop_for(ltp))
            self._refresh_lagging()
        if ltp > self.high:
            self.high = ltp
            self._refresh_group_top()
        if self.lagging:
            self._merge_lagging()

    def take_group_from(self, ltp: int) -> list[Entry[R]]:
        """Grouped entries whose trailing stop is at or above the LTP (a tail)."""
        if ltp > self.group_top:
            return []
        taken: list[Entry[R]] = []
        group = self.group
        while group:
            last = group[-1]
            assert last.trail is not None
            if last.trail.stop_for(self.high) < ltp:
                break
            self._ungroup(last)
            taken.append(group.pop())
            self.group_factors.pop()
        self._group_shrank()
        return taken

    def take_lagging_from(self, ltp: int) -> list[Entry[R]]:
        """Lagging entries whose own trailing stop is at or above the LTP."""
        if ltp > self.lag_top:
            return []
        taken = [e for e in self.lagging if e.trail_stop >= ltp]
        self.lagging = [e for e in self.lagging if e.trail_stop < ltp]
        self._refresh_lagging()
        return taken

    # ---- internals ---------------------------------------------------------------------

    def _join(self, entry: Entry[R]) -> None:
        i = bisect_right(self.group_factors, entry.factor)
        self.group_factors.insert(i, entry.factor)
        self.group.insert(i, entry)
        entry.grouped = True
        self._refresh_group_top()

    def _leave_group(self, entry: Entry[R]) -> None:
        i = bisect_left(self.group_factors, entry.factor)
        while self.group[i] is not entry:
            i += 1
        del self.group_factors[i]
        del self.group[i]
        self._ungroup(entry)
        self._group_shrank()

    def _ungroup(self, entry: Entry[R]) -> None:
        """The entry keeps what it has seen as its own high and stop."""
        assert entry.trail is not None
        entry.high = self.high
        entry.trail_stop = entry.trail.stop_for(self.high)
        entry.grouped = False

    def _refresh_group_top(self) -> None:
        if self.group:
            last = self.group[-1]
            assert last.trail is not None
            self.group_top = last.trail.stop_for(self.high)
        else:
            self.group_top = NONE_ABOVE

    def _group_shrank(self) -> None:
        self._refresh_group_top()
        if not self.group:
            # H starts again from the next tick, so lagging entries can form a new group
            # as soon as a tick reaches their highs.
            self.high = 0

    def _refresh_lagging(self) -> None:
        self.lag_low_high = min((e.high for e in self.lagging), default=NO_HIGH)
        self.lag_top = max((e.trail_stop for e in self.lagging), default=NONE_ABOVE)

    def _merge_lagging(self) -> None:
        """Lagging entries whose high reached H, and whose stop H gives, join the group."""
        stay: list[Entry[R]] = []
        for entry in self.lagging:
            assert entry.trail is not None
            if entry.high == self.high and entry.trail.stop_for(self.high) >= entry.trail_stop:
                self._join(entry)
            else:
                stay.append(entry)
        if len(stay) != len(self.lagging):
            self.lagging = stay
            self._refresh_lagging()
