"""The real-broker BUYs coming up, kept incrementally for the readiness loop.

Each refresh needs only the connections with a BUY in the next few minutes, not the whole
day's schedule: BUYs wait in a heap by time and move into the `near` map as the window
reaches them (lazy invalidation, as in schedule.py), so a refresh costs the BUYs near, not
every strategy.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime

from pipeline.trigger.schedule import Key


class Upcoming:
    """Real-broker BUYs by time; `near(until)` is those due by `until` and still owed."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Key, str]] = []
        self._live: dict[Key, int] = {}
        self._near: dict[Key, tuple[datetime, str]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._live) + len(self._near)

    def add(self, key: Key, at: datetime, broker: str) -> None:
        """The key's BUY is due at `at` on connection `broker` (replaces its old time)."""
        self._near.pop(key, None)
        seq = next(self._seq)
        self._live[key] = seq
        heapq.heappush(self._heap, (at, seq, key, broker))

    def discard(self, key: Key) -> None:
        """The key's BUY is no longer owed (fired, done, dropped, or not a real broker's)."""
        self._live.pop(key, None)
        self._near.pop(key, None)

    def clear(self) -> None:
        """Forget everything (a new day)."""
        self._heap.clear()
        self._live.clear()
        self._near.clear()

    def near(self, until: datetime) -> dict[Key, tuple[datetime, str]]:
        """The owed BUYs due by `until`: key → (time, connection). Read-only for callers."""
        while self._heap and self._heap[0][0] <= until:
            at, seq, key, broker = heapq.heappop(self._heap)
            if self._live.get(key) == seq:
                del self._live[key]
                self._near[key] = (at, broker)
        return self._near
