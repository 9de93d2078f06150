"""Per-second rates of the roles' cumulative counters, between two of their heartbeats."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RateTracker:
    """Remembers each series' last `(beat time, total, rate)` (one tracker per process).

    Counters only change with a heartbeat, so the rate is taken between two beats, and a
    reading of the same beat again repeats the last rate. A first reading, or a restarted
    source (its total went down), gives the average since `started_at`.
    """

    _last: dict[str, tuple[float, float, float | None]] = field(default_factory=dict)

    def rate(self, series: str, beat_ts: float, total: float,
             started_at: float | None = None) -> float | None:
        """Per second, over the last interval between beats of `series`."""
        previous = self._last.get(series)
        if previous is not None and beat_ts == previous[0] and total == previous[1]:
            return previous[2]
        if previous is not None and total >= previous[1] and beat_ts > previous[0]:
            rate: float | None = round((total - previous[1]) / (beat_ts - previous[0]), 3)
        elif started_at is not None and beat_ts > started_at:
            rate = round(total / (beat_ts - started_at), 3)
        else:
            rate = None
        self._last[series] = (beat_ts, total, rate)
        return rate
