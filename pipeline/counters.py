"""The counters of the roles that keep them on their parts rather than on the service.

`Service.counters()` reads them from here by role name; the other roles override it.
They go out with every heartbeat (Redis, read by the web's health and metrics) and in
answer to `$SRV.STATS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

if TYPE_CHECKING:
    from pipeline.executor.service import ExecutorService
    from pipeline.slwatch.service import SlWatchService


def executor(service: object) -> dict[str, Any]:
    """Commands handled and dead-lettered, orders sent, orders adopted by reconciliation."""
    s = cast("ExecutorService", service)
    return {"handled": s.consumer.handled, "dead_lettered": s.consumer.dead_lettered,
            "sent": s.handler.sent, "adopted": s.reconciler.adopted}


def slwatch(service: object) -> dict[str, Any]:
    """Ticks seen and checked, breaches, exit commands, and tick-to-command latency."""
    s = cast("SlWatchService", service)
    m = s.metrics
    p50, p99 = m.latency_ns.percentile(50), m.latency_ns.percentile(99)
    return {"armed": s.armed, "ticks_seen": m.ticks_seen, "ticks_skipped": m.ticks_skipped,
            "ticks_undecodable": m.ticks_undecodable, "checks": m.checks,
            "breaches": m.breaches, "commands": m.commands, "duplicates": m.duplicates,
            "publish_failures": m.publish_failures, "latency_samples": m.latency_ns.seen,
            "latency_p50_ms": None if p50 is None else round(p50 / 1e6, 3),
            "latency_p99_ms": None if p99 is None else round(p99 / 1e6, 3)}


BY_ROLE: Final[dict[str, Callable[[object], dict[str, Any]]]] = {
    "executor": executor,
    "slwatch": slwatch,
}
