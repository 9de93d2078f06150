"""Prometheus metrics of the platform (OPS-2), in the text exposition format.

Two kinds: what this process observes (HTTP latency by route and status — a histogram,
shared across web workers through prometheus-client's multiprocess mode when
`PROMETHEUS_MULTIPROC_DIR` is set, see web/server.py) and what is read at scrape time
(core/monitoring/metrics.py: orders by status and broker, order and stop-loss latency,
running strategies, ticks in and out, consumer lag, error rate, role heartbeats).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram
from prometheus_client import generate_latest as _generate
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from core.monitoring.metrics import ERROR_WINDOW, Snapshot

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

HTTP_LATENCY: Final = Histogram(
    "algo_http_request_duration_seconds", "HTTP request latency, by route and status",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Record one HTTP request (route: the URL rule, not the path, so ids do not explode
    the label set)."""
    HTTP_LATENCY.labels(method, route, str(status)).observe(seconds)


class _Default(Collector):
    """This process's registry (single-process mode: no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class SnapshotCollector(Collector):
    """The scrape-time numbers of one snapshot."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def collect(self) -> Iterator[Metric]:
        snap = self._snap
        orders = _gauge("algo_orders_today", "Orders of the trading day", ["status", "broker"])
        for status, broker, count in snap.orders_today:
            orders.add_metric([status, broker], count)
        yield orders
        latency = _gauge("algo_order_latency_seconds",
                         "Order latency today: intent stored to sent, and to final",
                         ["stage", "quantile"])
        for stage, pct in snap.order_latency.items():
            for q, ms in (("0.5", pct.p50_ms), ("0.9", pct.p90_ms), ("0.99", pct.p99_ms)):
                if ms is not None:
                    latency.add_metric([stage, q], ms / 1000)
        yield latency
        sl = _gauge("algo_sl_trigger_latency_seconds",
                    "Stop-loss trigger latency: tick received to exit command stored",
                    ["quantile"])
        for q, ms in (("0.5", snap.sl_latency.p50_ms), ("0.99", snap.sl_latency.p99_ms)):
            if ms is not None:
                sl.add_metric([q], ms / 1000)
        yield sl
        yield GaugeMetricFamily("algo_strategies_running", "Running strategies",
                                value=snap.strategies_running)
        yield GaugeMetricFamily("algo_users_active", "Users who may log in",
                                value=snap.users_active)
        yield CounterMetricFamily("algo_ticks_in", "Ticks received by the feed",
                                  value=snap.ticks.ticks_in)
        yield CounterMetricFamily("algo_ticks_out", "Ticks published by the feed",
                                  value=snap.ticks.ticks_out)
        rate = _gauge("algo_ticks_per_second", "Feed ticks per second", ["direction"])
        for direction, value in (("in", snap.ticks.in_per_s), ("out", snap.ticks.out_per_s)):
            if value is not None:
                rate.add_metric([direction], value)
        yield rate
        yield from self._consumers()
        errors = _gauge("algo_errors_recent", "Error records persisted over the last "
                        f"{int(ERROR_WINDOW.total_seconds())} s", ["level"])
        for level, count in snap.errors.items():
            errors.add_metric([level], count)
        yield errors
        yield GaugeMetricFamily("algo_error_rate_per_minute", "Error records per minute",
                                value=snap.error_rate_per_min)
        yield from self._roles()

    def _consumers(self) -> Iterator[Metric]:
        families = {
            "pending": _gauge("algo_consumer_lag", "Messages not yet delivered to a consumer",
                              ["stream", "consumer"]),
            "ack_pending": _gauge("algo_consumer_ack_pending",
                                  "Messages delivered and not yet acknowledged",
                                  ["stream", "consumer"]),
            "redelivered": _gauge("algo_consumer_redelivered",
                                  "Messages delivered more than once, not yet acknowledged",
                                  ["stream", "consumer"]),
        }
        for stream in self._snap.streams:
            for c in stream.consumers:
                families["pending"].add_metric([c.stream, c.name], c.pending)
                families["ack_pending"].add_metric([c.stream, c.name], c.ack_pending)
                families["redelivered"].add_metric([c.stream, c.name], c.redelivered)
        yield from families.values()

    def _roles(self) -> Iterator[Metric]:
        instances = _gauge("algo_role_instances", "Live instances of a pipeline role", ["role"])
        age = _gauge("algo_role_heartbeat_age_seconds", "Age of a role instance's heartbeat",
                     ["role", "instance"])
        counters = _gauge("algo_role_counter", "A pipeline role's counter, summed over its "
                          "instances (since each started)", ["role", "counter"])
        for role, beats in self._snap.roles.items():
            instances.add_metric([role], len(beats))
            for beat in beats:
                age.add_metric([role, beat.instance], beat.age_s)
        for role, values in self._snap.role_counters().items():
            for name, value in values.items():
                if name != "instances":
                    counters.add_metric([role, name], value)
        yield from (instances, age, counters)


def _render(snap: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Default())
    registry.register(SnapshotCollector(snap))
    return _generate(registry)


async def render(snap: Snapshot) -> bytes:
    """The exposition text (the multiprocess files are read off the event loop)."""
    return await asyncio.to_thread(_render, snap)
