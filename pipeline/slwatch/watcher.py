"""The hot path (DESIGN §11): one tick in, breached exits out, no I/O and no await.

Per tick: the partition check on the subject (cached per subject), a dict lookup that skips
symbols with nothing armed before any decoding, one msgspec decode, and the index's
O(log n + k) breach search. Breaches go to the Firer, which publishes in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

import msgspec
from nats.aio.msg import Msg

from core.messages import Tick, decoder
from core.strategies.runtime import StrategyRuntime
from core.trace import TRACE_HEADER, clean_trace_id, new_trace_id
from pipeline.slwatch.firing import Firer
from pipeline.slwatch.index import StopIndex
from pipeline.slwatch.metrics import Metrics
from pipeline.slwatch.partition import Partition

MAX_SUBJECTS: Final = 100_000
"""Cached partition answers; far above any exchange's symbol count."""


class Watcher:
    """Checks every tick of this replica's partition against the armed exits."""

    def __init__(self, index: StopIndex[StrategyRuntime], firer: Firer, partition: Partition,
                 metrics: Metrics, log: logging.Logger) -> None:
        self._index = index
        self._firer = firer
        self._partition = partition
        self._metrics = metrics
        self._log = log
        self._decode = decoder(Tick).decode
        self._owned: dict[str, bool] = {}

    async def on_msg(self, msg: Msg) -> None:
        """The NATS subscription callback (awaits nothing)."""
        self.handle(msg.subject, msg.data, msg.headers)

    def handle(self, subject: str, data: bytes, headers: Mapping[str, str] | None = None,
               ) -> None:
        """Check one tick published on `subject`."""
        metrics = self._metrics
        metrics.ticks_seen += 1
        owned = self._owned.get(subject)
        if owned is None:
            owned = self._remember(subject)
        if not owned:
            metrics.ticks_skipped += 1
            return
        if not self._index.watches(subject):
            return
        try:
            tick = self._decode(data)
        except msgspec.DecodeError:
            metrics.ticks_undecodable += 1
            self._log.debug("undecodable tick skipped", extra={"subject": subject})
            return
        metrics.checks += 1
        breaches = self._index.on_tick(subject, tick.ltp_paise)
        if breaches:
            metrics.breaches += len(breaches)
            trace_id = clean_trace_id((headers or {}).get(TRACE_HEADER)) or new_trace_id()
            self._firer.fire(breaches, tick, trace_id)

    def _remember(self, subject: str) -> bool:
        if len(self._owned) >= MAX_SUBJECTS:
            self._owned.clear()
        owned = self._owned[subject] = self._partition.owns_subject(subject)
        return owned
