"""The watcher's counters and a bounded sample of tick-to-command latencies (for bench/)."""

from __future__ import annotations

import math
import random
from typing import Final

DEFAULT_RESERVOIR: Final = 10_000


class Reservoir:
    """A uniform sample of at most `size` values from an unbounded stream (Algorithm R)."""

    def __init__(self, size: int = DEFAULT_RESERVOIR, seed: int | None = None) -> None:
        if size < 1:
            raise ValueError("a reservoir holds at least one value")
        self.size = size
        self.seen = 0
        """How many values were offered."""
        self._values: list[int] = []
        self._random = random.Random(seed)  # noqa: S311 — sampling, not security

    def add(self, value: int) -> None:
        """Offer one value."""
        self.seen += 1
        if len(self._values) < self.size:
            self._values.append(value)
            return
        slot = self._random.randrange(self.seen)
        if slot < self.size:
            self._values[slot] = value

    def values(self) -> list[int]:
        """The sample, sorted."""
        return sorted(self._values)

    def percentile(self, pct: float) -> int | None:
        """The sample's `pct` percentile (nearest rank), None when empty."""
        ordered = self.values()
        if not ordered:
            return None
        rank = min(len(ordered), max(1, math.ceil(pct / 100 * len(ordered)))) - 1
        return ordered[rank]

    def clear(self) -> None:
        """Forget the sample (a benchmark between runs)."""
        self.seen = 0
        self._values.clear()


class Metrics:
    """Plain attributes, read by health checks and benchmarks; written on the hot path."""

    def __init__(self, reservoir: int = DEFAULT_RESERVOIR) -> None:
        self.ticks_seen = 0
        """Every tick received on `ticks.>`."""
        self.ticks_skipped = 0
        """Ticks of symbols in another replica's partition."""
        self.ticks_undecodable = 0
        self.checks = 0
        """Ticks decoded and checked against armed exits."""
        self.breaches = 0
        """Armed exits a tick breached."""
        self.commands = 0
        """Exit commands the COMMANDS stream acknowledged (duplicates included)."""
        self.duplicates = 0
        """Exit intents the stream already had (another action was then tried)."""
        self.publish_failures = 0
        """Failed publish attempts of exit commands (each was retried)."""
        self.latency_ns = Reservoir(reservoir)
        """Tick received (by the feed; else exchange time) to command acknowledged."""
