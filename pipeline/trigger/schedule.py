"""Today's due times in memory: a heap with lazy invalidation, one live entry per key.

Replacing the entry of a (strategy, action) is one synchronous step: the new entry becomes
the live one and the old heap item turns stale at the same moment, so there is never a
window in which both times (or neither) would fire. Stale items are dropped when they
reach the top of the heap.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import date, datetime

from core.db.enums import OrderAction
from core.strategies.runtime import StrategyRuntime

Key = tuple[str, OrderAction]
"""(strategy id, action): at most one entry each per trading day."""


@dataclass(frozen=True, slots=True, eq=False)
class Entry:
    """One BUY or SELL of one strategy on one trading day."""

    day: date
    at: datetime
    """Aware; the IST wall time on `day`."""
    action: OrderAction
    record: StrategyRuntime
    """The runtime record the entry was planned from (user, rev, times, instrument)."""

    @property
    def key(self) -> Key:
        """The entry's (strategy id, action)."""
        return self.record.strategy_id, self.action


class Schedule:
    """The pending entries, earliest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Entry]] = []
        self._live: dict[Key, int] = {}
        """Key → sequence number of its live heap item; any other item of the key is stale."""
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def put(self, entry: Entry, when: datetime | None = None) -> None:
        """Make `entry` the key's only live entry (an older one of the key is dropped), due
        at `when` (a held entry's re-check) or at its own time."""
        seq = next(self._seq)
        self._live[entry.key] = seq
        heapq.heappush(self._heap, (when or entry.at, seq, entry))

    def entries(self) -> list[Entry]:
        """The live entries, in no order (linear: for the readiness loop's few-second pass)."""
        return [e for _, s, e in self._heap if self._live.get(e.key) == s]

    def discard(self, key: Key) -> None:
        """Forget the key's entry, if any."""
        self._live.pop(key, None)

    def get(self, key: Key) -> Entry | None:
        """The key's live entry (linear: for tests and diagnostics only)."""
        seq = self._live.get(key)
        return next((e for _, s, e in self._heap if s == seq), None) if seq is not None else None

    def clear(self) -> None:
        """Forget every entry."""
        self._heap.clear()
        self._live.clear()

    def next_at(self) -> datetime | None:
        """When the earliest live entry is due."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: datetime) -> list[Entry]:
        """Remove and return every live entry due at or before `now`, earliest first."""
        due: list[Entry] = []
        while self._heap and self._heap[0][0] <= now:
            _, seq, entry = heapq.heappop(self._heap)
            if self._live.get(entry.key) == seq:
                del self._live[entry.key]
                due.append(entry)
        return due

    def _drop_stale(self) -> None:
        while self._heap and self._live.get(self._heap[0][2].key) != self._heap[0][1]:
            heapq.heappop(self._heap)
