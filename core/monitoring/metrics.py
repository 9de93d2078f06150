"""The platform's numbers at one moment (ADM-3, OPS-2): PostgreSQL aggregates, the roles'
heartbeat counters and the JetStream consumers. Read by /admin/system/metrics and /metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, trading_day
from core.monitoring import heartbeats, jetstream
from core.monitoring.heartbeats import Heartbeat
from core.monitoring.jetstream import StreamStats
from core.monitoring.rates import RateTracker
from core.repos import monitoring as repo
from core.repos.monitoring import Percentiles

ERROR_WINDOW: Final = timedelta(minutes=15)
"""The error rate is taken over this much of the recent past."""


@dataclass(frozen=True, slots=True)
class TickRates:
    """Ticks into and out of the feed, and checked by the stop-loss watcher (totals since
    each instance started, and per second over the last heartbeat interval)."""

    ticks_in: int
    ticks_out: int
    ticks_checked: int
    in_per_s: float | None
    out_per_s: float | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything both metrics endpoints show."""

    at: datetime
    trading_day: str
    users_active: int
    users_running: int
    strategies_running: int
    orders_today: list[tuple[str, str, int]]
    """`(status, broker_type, count)`."""
    order_latency: dict[str, Percentiles]
    errors: dict[str, int]
    """Error records by level over ERROR_WINDOW."""
    error_rate_per_min: float
    ticks: TickRates
    sl_latency: Percentiles
    """Tick received → exit command stored, from the watchers' samples (worst instance)."""
    roles: dict[str, list[Heartbeat]]
    streams: list[StreamStats] = field(default_factory=list)

    def role_counters(self) -> dict[str, dict[str, Any]]:
        """Each role's numeric counters summed over its instances."""
        out: dict[str, dict[str, Any]] = {}
        for role, beats in self.roles.items():
            names = {k for b in beats for k, v in b.counters.items()
                     if isinstance(v, int | float) and not isinstance(v, bool)}
            out[role] = {"instances": len(beats),
                         **{n: heartbeats.summed(beats, n) for n in sorted(names)
                            if not n.startswith("latency_")}}
        return out


def _ticks(roles: dict[str, list[Heartbeat]], now_ts: float, rates: RateTracker) -> TickRates:
    feed = roles.get("feed", [])
    in_rate = out_rate = 0.0
    known = False
    for beat in feed:
        beat_ts, started = now_ts - beat.age_s, beat.started_at
        r_in = rates.rate(f"feed:{beat.instance}:in", beat_ts,
                          float(beat.counters.get("ticks_in") or 0), started)
        r_out = rates.rate(f"feed:{beat.instance}:out", beat_ts,
                           float(beat.counters.get("ticks_out") or 0), started)
        if r_in is not None and r_out is not None:
            known, in_rate, out_rate = True, in_rate + r_in, out_rate + r_out
    return TickRates(
        ticks_in=heartbeats.summed(feed, "ticks_in"),
        ticks_out=heartbeats.summed(feed, "ticks_out"),
        ticks_checked=heartbeats.summed(roles.get("slwatch", []), "checks"),
        in_per_s=round(in_rate, 3) if known else None,
        out_per_s=round(out_rate, 3) if known else None)


def _sl_latency(watchers: list[Heartbeat]) -> Percentiles:
    def worst(name: str) -> float | None:
        values = [float(v) for b in watchers if isinstance(v := b.counters.get(name), int | float)]
        return max(values, default=None)

    return Percentiles(count=heartbeats.summed(watchers, "latency_samples"),
                       p50_ms=worst("latency_p50_ms"), p90_ms=None,
                       p99_ms=worst("latency_p99_ms"))


async def collect(sessions: async_sessionmaker[AsyncSession], redis: Redis,
                  js: JetStreamContext, clock: Clock, rates: RateTracker) -> Snapshot:
    """Read everything at once: PostgreSQL, Redis and JetStream in parallel."""
    now = clock.now()
    day = trading_day(clock)

    async def from_db() -> tuple[int, tuple[int, int], list[tuple[str, str, int]],
                                 dict[str, Percentiles], dict[str, int]]:
        async with sessions() as session:
            return (await repo.active_users(session), await repo.running_strategies(session),
                    await repo.orders_by_status_and_broker(session, day),
                    await repo.order_latency(session, day),
                    await repo.errors_since(session, now - ERROR_WINDOW))

    db, beats, streams = await asyncio.gather(
        from_db(), heartbeats.read_all(redis, now.timestamp()), jetstream.streams(js))
    users, (running, users_running), orders, latency, errors = db
    roles = heartbeats.by_role(beats)
    window_min = ERROR_WINDOW.total_seconds() / 60
    return Snapshot(
        at=now, trading_day=day.isoformat(), users_active=users, users_running=users_running,
        strategies_running=running, orders_today=orders, order_latency=latency,
        errors=errors, error_rate_per_min=round(sum(errors.values()) / window_min, 3),
        ticks=_ticks(roles, now.timestamp(), rates), sl_latency=_sl_latency(roles["slwatch"]),
        roles=roles, streams=streams)
