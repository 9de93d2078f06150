"""The per-tick path: source → aggregation → publish buffer and LTP cache.

DESIGN §11: no await, no I/O and no logging per tick; one dict lookup decides whether a
tick passes and finds its subject and LTP key.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import Tick
from pipeline.feed.aggregate import Aggregator
from pipeline.feed.ltp_cache import LtpCache
from pipeline.feed.publisher import TickPublisher
from pipeline.feed.recorder import TickRecorder
from pipeline.feed.sources import Instrument


@dataclass(slots=True)
class SourceStats:
    """Counters of one source (for metrics)."""

    ticks_in: int = 0
    """Ticks the source delivered."""
    dropped: int = 0
    """Of those, ticks not needed, duplicated or older than one already published."""
    restarts: int = 0
    up: bool = False
    """Started and delivering (or ready to)."""


class TickPipe:
    """Takes the sources' ticks; publishes the newest of each needed instrument."""

    def __init__(self, aggregator: Aggregator, publisher: TickPublisher,
                 ltp: LtpCache, recorder: TickRecorder | None = None) -> None:
        self._accept = aggregator.accept
        self._slot = aggregator.slot
        self._add = publisher.add
        self._note = ltp.note
        self.flush = publisher.flush
        self._record = None if recorder is None else recorder.record
        self.injected = 0

    def offer(self, tick: Tick, stats: SourceStats) -> bool:
        """Take one tick; True when the publish batch is full (then `await flush()`)."""
        stats.ticks_in += 1
        slot = self._accept(tick)
        if slot is None:
            stats.dropped += 1
            return False
        self._note(slot.ltp_key, tick.ltp_paise)
        if self._record is not None:
            self._record(tick)
        return self._add(slot.subject, tick)

    def inject(self, instrument: Instrument, paise: int, now_ns: int) -> bool:
        """Publish a polled price as a tick, outside the aggregation (a polled price has no
        exchange timestamp, and must not hold back the feed's own ticks when they resume)."""
        slot = self._slot(instrument)
        if slot is None:
            return False
        self.injected += 1
        self._note(slot.ltp_key, paise)
        self._add(slot.subject, Tick(exchange=instrument[0], symbol=instrument[1],
                                     ltp_paise=paise, exchange_ts=now_ns, received_ts=now_ns))
        return True
