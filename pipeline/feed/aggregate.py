"""Merging the sources' ticks: per instrument, only ticks newer than the last one pass.

Several sources may quote one instrument; the newest by exchange timestamp wins, and a tick
with the same timestamp (a duplicate) or an older one (out of order) is dropped. The table
holds only subscribed instruments, so the same single dict lookup also drops the ticks of
instruments nobody needs, and hands back what publishing needs (the subject, the LTP key).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core import redis_keys, subjects
from core.messages import Tick
from pipeline.feed.sources import Instrument


class Slot:
    """One subscribed instrument."""

    __slots__ = ("instrument", "last_ts", "ltp_key", "subject")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.subject = subjects.tick(*instrument)
        self.ltp_key = redis_keys.ltp(*instrument)
        self.last_ts = -1
        """Exchange timestamp of the newest tick accepted (-1: none yet)."""


class Aggregator:
    """Newest-wins filter over the subscribed instruments; O(1) per tick."""

    def __init__(self) -> None:
        self._slots: dict[Instrument, Slot] = {}

    def open(self, instruments: Iterable[Instrument]) -> None:
        """Let these instruments' ticks through (raises ValueError for an unusable name)."""
        for instrument in instruments:
            if instrument not in self._slots:
                self._slots[instrument] = Slot(instrument)

    def close(self, instruments: Iterable[Instrument]) -> None:
        """Drop these instruments' ticks from now on."""
        for instrument in instruments:
            self._slots.pop(instrument, None)

    def accept(self, tick: Tick) -> Slot | None:
        """The tick's slot if the tick is the newest of a subscribed instrument, else None."""
        slot = self._slots.get((tick.exchange, tick.symbol))
        if slot is None or tick.exchange_ts <= slot.last_ts:
            return None
        slot.last_ts = tick.exchange_ts
        return slot

    def slot(self, instrument: Instrument) -> Slot | None:
        """The slot of a subscribed instrument."""
        return self._slots.get(instrument)

    def last_ts(self, instrument: Instrument) -> int | None:
        """Exchange timestamp of the instrument's newest tick (None: not subscribed)."""
        slot = self._slots.get(instrument)
        return None if slot is None else slot.last_ts

    def __contains__(self, instrument: object) -> bool:
        return instrument in self._slots

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)
