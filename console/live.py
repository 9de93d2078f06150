"""What the dashboard shows, kept up to date by the event feed and the metrics poll."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from console.models import Halt, HealthView, MetricsView
from console.sse import ServerEvent

ORDER_EVENTS: Final = frozenset({"ORDER_EXECUTED", "ORDER_REJECTED"})
MINUTES: Final = 30
"""Width of the orders/min history (one bar a minute)."""
SAMPLES: Final = 60
"""Width of the ticks/s history (one bar a metrics poll)."""


@dataclass(frozen=True, slots=True)
class ErrorLine:
    """One ERROR event as the dashboard lists it."""

    at: float
    user_id: str
    strategy_id: str | None
    message: str


@dataclass
class LiveState:
    """Counters and recent history; pure data, so it is tested without a terminal."""

    wall: Callable[[], float] = time.time
    events_seen: int = 0
    last_event_at: float | None = None
    health: HealthView | None = None
    metrics: MetricsView | None = None
    health_error: str | None = None
    halts: list[Halt] = field(default_factory=list)
    metrics_error: str | None = None
    ticks_per_s: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    errors: deque[ErrorLine] = field(default_factory=lambda: deque(maxlen=50))
    _orders_by_minute: dict[int, int] = field(default_factory=dict)

    def apply(self, event: ServerEvent) -> None:
        """Count one event of the admin stream."""
        now = self.wall()
        self.events_seen += 1
        self.last_event_at = now
        if event.type in ORDER_EVENTS:
            minute = int(now // 60)
            self._orders_by_minute[minute] = self._orders_by_minute.get(minute, 0) + 1
            for old in [m for m in self._orders_by_minute if m <= minute - MINUTES]:
                del self._orders_by_minute[old]
        elif event.type == "ERROR":
            payload = event.payload
            message = str(payload.get("message") or payload.get("kind") or "error")
            self.errors.appendleft(ErrorLine(now, str(event.data.get("user_id") or "-"),
                                             event.data.get("strategy_id"), message))

    def apply_metrics(self, metrics: MetricsView) -> None:
        """Take one metrics poll."""
        self.metrics = metrics
        self.metrics_error = None
        if metrics.ticks_per_s is not None:
            self.ticks_per_s.append(metrics.ticks_per_s)

    def orders_per_minute(self) -> list[float]:
        """Orders seen per minute over the last `MINUTES` minutes, oldest first."""
        minute = int(self.wall() // 60)
        return [float(self._orders_by_minute.get(m, 0))
                for m in range(minute - MINUTES + 1, minute + 1)]

    @property
    def orders_this_minute(self) -> int:
        """Orders seen in the current minute."""
        return self._orders_by_minute.get(int(self.wall() // 60), 0)
