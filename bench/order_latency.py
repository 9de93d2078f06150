"""Order latency: trigger fire → paper broker request, at a steady rate and in a burst.

Starts its own servers (embedded NATS with JetStream, PostgreSQL, Redis, as `algo up`
does), one `python -m pipeline trigger` and K `python -m pipeline executor` processes
(ALGO_PAPER_ALWAYS_OPEN=1, so it runs at any wall time), and paper strategies: inserted
CREATED in bulk, started with `StrategyService.start_many`, spread over many users (one
paper account each, far below the executor's per-account rate limit). A plain NATS
subscription on `cmd.order.>` sees each command as the trigger publishes it (`issued_at`);
the paper broker books the instant it received each order (`paper_orders.created_at`).
A warm-up of 40 orders precedes the measurements.

    .venv/bin/python bench/order_latency.py [--seconds N] [--executors K] [--users N]
                                            [--samples FILE.csv]

(a) steady: buy times 10 ms apart (100 a second) for N seconds (default 60): fire →
    received and scheduled → fire percentiles in ms, counts of commands, paper orders and
    FILLED orders, and every strategy checked for exactly one order.
(b) burst: 1,000 strategies with one buy time: from that instant to the last fire, the
    last paper order received and the last order FILLED, and the exact count of orders.

Prints progress lines (with the pipeline's pids, for py-spy), then one JSON object last:
`steady_*` and `burst_*` figures (fire → intent row → received split the latency at the
executor's `orders.created_at`), `*_missing` / `*_duplicate_strategies` / `problems` for
exactly-once, `target_*` for the issue's goals, and per phase the CPU in use (Linux):
`*_executor_cpu_ms_per_order`, and `*_other_cores`, load from outside the benchmark, which
makes a run on a shared machine not comparable.

Its parts: the plan (bench/order_plan.py), set-up through the services
(bench/order_setup.py), the pipeline processes and watching them (bench/order_pipeline.py),
the figures and verdict (bench/order_result.py); this module runs the phases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.cpu import CpuMeter, postmaster_pid
from bench.order_book import CommandWatch, read_book
from bench.order_pipeline import (
    Pipeline,
    consumer_state,
    db_sessions,
    sleep_until,
    spawn_pipeline,
    wait_for_heartbeats,
    wait_settled,
)
from bench.order_plan import (
    BURST,
    BURST_GAP,
    LEAD,
    SYMBOLS,
    WARMUP,
    Planned,
    plan_phase,
    same_day_or_wait,
    steady_instants,
)
from bench.order_result import burst_result, steady_result, verdict, write_samples
from bench.order_setup import START_CONCURRENCY, Clients, arm, populate, prepare
from bench.pipelineproc import stop_all
from bench.progress import on_sigterm, progress
from core import aio
from core.clock import IST, RealClock
from core.db import migrate
from core.db.engine import create_engine, session_factory
from core.embedded.stack import EmbeddedStack, Endpoints
from core.events import EventPublisher
from core.nats import connect_nats
from core.redis import create_redis
from core.settings import Settings
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import Limits


@dataclass
class Run:
    """What one run works with; `procs` collects the pipeline processes as they start, so
    whoever made the run stops them whatever happens."""

    endpoints: Endpoints
    data_dir: str
    seconds: float
    executors: int
    users: int
    cpu_roots: list[int]
    samples: Path | None = None
    """Where to write every order's instants (CSV), if anywhere."""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)


async def measure(run: Run) -> dict[str, Any]:
    """Everything after the servers, with the benchmark's own connections."""
    engine = create_engine(run.endpoints.database_url, pool_size=START_CONCURRENCY)
    redis = create_redis(run.endpoints.redis_url)
    nc = await connect_nats(run.endpoints.nats_url, name="bench")
    try:
        clock = RealClock()
        js = nc.jetstream()
        sessions = session_factory(engine)
        clients = Clients(sessions, redis, nc, js, StrategyService(
            sessions, redis, EventPublisher(js, clock), clock,
            Limits(10_000, Decimal(20), Decimal(20), paper_always_open=True)))
        return await run_phases(clients, run)
    finally:
        await nc.drain()
        await redis.aclose()
        await engine.dispose()


async def start_pipeline(clients: Clients, run: Run) -> Pipeline:
    """The processes, once each has written its heartbeat."""
    began = time.monotonic()
    pipeline = spawn_pipeline(run.endpoints, run.data_dir, run.executors, run.procs)
    await wait_for_heartbeats(clients.redis, pipeline)
    progress(f"pipeline beating after {time.monotonic() - began:.1f} s: trigger pid "
             f"{pipeline.trigger.pid}, executor pids {[p.pid for p in pipeline.executors]}")
    return pipeline


async def warm_up(clients: Clients, pipeline: Pipeline, users: Sequence[str],
                  symbols: Sequence[str]) -> list[Planned]:
    """A few orders end to end before measuring: proves the pipeline ready, warms its pools."""
    first = datetime.now(IST) + timedelta(seconds=3)
    warmup = plan_phase("warmup", [first + i * timedelta(milliseconds=50)
                                   for i in range(WARMUP)], users, symbols)
    await arm(clients, warmup)
    await wait_settled(clients.sessions, len(warmup), pipeline)
    progress(f"warm-up: {WARMUP} orders final")
    return warmup


async def arm_measured(clients: Clients, users: Sequence[str], symbols: Sequence[str],
                       seconds: float) -> tuple[list[Planned], list[Planned]]:
    """The steady and the burst strategies, created and started; returns both."""
    t0 = datetime.now(IST) + LEAD
    steady = plan_phase("steady", steady_instants(t0, seconds), users, symbols)
    burst_at = steady[-1].at + BURST_GAP
    burst = plan_phase("burst", [burst_at] * BURST, users, symbols, offset=len(steady))
    began = time.monotonic()
    await arm(clients, steady + burst)
    progress(f"armed {len(steady)} steady + {len(burst)} burst strategies in "
             f"{time.monotonic() - began:.1f} s; steady starts in "
             f"{(t0 - datetime.now(IST)).total_seconds():.1f} s, burst at {burst_at:%H:%M:%S}")
    if datetime.now(IST) > t0 - timedelta(seconds=3):
        raise RuntimeError("arming took too long: raise LEAD")
    return steady, burst


async def phase(clients: Clients, pipeline: Pipeline, cpu: CpuMeter, name: str,
                planned: Sequence[Planned], settled: int) -> dict[str, float]:
    """Wait for the phase's first buy time, then until `settled` orders are final; returns
    the CPU used and the PostgreSQL connections opened meanwhile."""
    await sleep_until(planned[0].at)
    cpu.start()
    opened = await db_sessions(clients.sessions)
    await sleep_until(planned[-1].at)
    await wait_settled(clients.sessions, settled, pipeline)
    progress(f"{name} phase settled")
    usage = cpu.stop(name, len(planned))
    usage[f"{name}_db_connections_opened"] = await db_sessions(clients.sessions) - opened
    return usage


async def run_phases(clients: Clients, run: Run) -> dict[str, Any]:
    """Warm-up, the steady and burst phases, then the books read back and judged."""
    users, symbols = await populate(clients, run.users)
    watch = CommandWatch()
    await watch.start(clients.nc)
    pipeline = await start_pipeline(clients, run)
    warmup = await warm_up(clients, pipeline, users, symbols)
    steady, burst = await arm_measured(clients, users, symbols, run.seconds)
    cpu = CpuMeter({"executor": [p.pid for p in pipeline.executors],
                    "trigger": [pipeline.trigger.pid], "postgres": run.cpu_roots[1:]},
                   run.cpu_roots)
    usage = await phase(clients, pipeline, cpu, "steady", steady, len(warmup) + len(steady))
    usage.update(await phase(clients, pipeline, cpu, "burst", burst,
                             len(warmup) + len(steady) + len(burst)))
    await asyncio.sleep(2.0)  # anything late or repeated has time to show

    book = await read_book(clients.sessions)
    if run.samples is not None:
        write_samples(run.samples, [*steady, *burst], watch, book)
    result = {**steady_result(steady, watch, book), **burst_result(burst, watch, book)}
    result.update(verdict(result, book))
    result.update(usage)
    result.update({"orders_by_status": dict(book.statuses),
                   "paper_orders_total": sum(len(v) for v in book.received.values())
                   + book.unmatched,
                   **await consumer_state(clients.js),
                   "pipeline_log_lines": pipeline.report_log()})
    pipeline.check_alive()
    return result


def main(seconds: float, executors: int, users: int, samples: Path | None) -> dict[str, Any]:
    """Start the servers, run the phases, stop everything that was started."""
    same_day_or_wait(timedelta(minutes=5) + timedelta(seconds=seconds))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="algo-bench-") as tmp:
        settings = Settings(env="dev", data_dir=Path(tmp), nats_url=None, database_url=None,
                            redis_url=None, nats_port=0, nats_monitor_port=0, redis_port=0)
        stack = EmbeddedStack(settings, persistent_redis=False)
        endpoints = stack.start()
        run = Run(endpoints, tmp, seconds, executors, users,
                  cpu_roots=[os.getpid(), *postmaster_pid(stack)], samples=samples)
        try:
            migrate.upgrade(endpoints.database_url)
            aio.run(prepare(endpoints))
            progress(f"servers up, migrated, seeded in {time.monotonic() - started:.1f} s")
            result: dict[str, Any] = {"bench": "order_latency", "seconds": seconds,
                                      "executors": executors, "users": users,
                                      "symbols": SYMBOLS, "steady_rate_per_s": 100,
                                      "burst": BURST}
            result.update(aio.run(measure(run)))
            result["run_s"] = round(time.monotonic() - started, 1)
            return result
        finally:
            stop_all(run.procs)
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--users", type=int, default=500,
                        help="paper accounts the strategies are dealt over (default 500)")
    parser.add_argument("--samples", type=Path, default=None,
                        help="also write every order's instants to this CSV file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING,
                        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        print(json.dumps(main(args.seconds, args.executors, args.users, args.samples)), flush=True)
    except KeyboardInterrupt:
        sys.exit(130)
