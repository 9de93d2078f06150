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
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any, Final

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.cpu import CpuMeter, postmaster_pid
from bench.order_book import Book, CommandWatch, epoch_ns, read_book
from bench.pipelineproc import pipeline_env, start_roles, stop_all
from core import aio, redis_keys, subjects
from core.bootstrap import seed_reference_data
from core.clock import IST, RealClock
from core.db import migrate
from core.db.engine import create_engine, session_factory
from core.db.enums import OrderAction
from core.db.models import Order, Strategy, User
from core.embedded.stack import EmbeddedStack, Endpoints
from core.events import EventPublisher
from core.ids import new_id
from core.nats import connect_nats
from core.redis import create_redis
from core.repos.instruments import bundled_nse_equities
from core.settings import Settings
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import Limits
from core.streams import ensure_streams

STEADY_SPACING: Final = timedelta(milliseconds=10)
"""100 buy times a second."""
BURST: Final = 1000
WARMUP: Final = 40
"""Orders placed before measuring, so pools and caches are as a running system has them."""
SYMBOLS: Final = 20
LEAD: Final = timedelta(seconds=15)
"""From planning to the first measured buy time: creating and arming the strategies takes
a few seconds of it, the rest (about 10 s) is quiet before the measurement."""
BURST_GAP: Final = timedelta(seconds=10)
"""After the last steady buy time, before the burst instant."""
SELL_AFTER: Final = timedelta(minutes=10)
"""Sell times are never reached while the benchmark runs."""
DRAIN_TIMEOUT_S: Final = 60.0
START_CONCURRENCY: Final = 8
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
PIPELINE_SETTINGS: Final = {"ALGO_ENV": "dev", "ALGO_PAPER_ALWAYS_OPEN": "1",
                            "ALGO_LOG_LEVEL": "WARNING"}


# ---- plan ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    """One strategy of the benchmark and the instant its BUY is due."""

    strategy_id: str
    user_id: str
    symbol: str
    at: datetime
    phase: str
    sell_at: datetime | None = None
    """When its SELL is due; None: `SELL_AFTER` later, never reached while a bench runs."""


def plan_phase(phase: str, instants: Sequence[datetime], users: Sequence[str],
               symbols: Sequence[str], offset: int = 0) -> list[Planned]:
    """One strategy per instant, dealt round-robin over users and symbols."""
    return [Planned(new_id("str"), users[(offset + i) % len(users)],
                    symbols[(offset + i) % len(symbols)], at, phase)
            for i, at in enumerate(instants)]


def steady_instants(first: datetime, seconds: float) -> list[datetime]:
    """Buy times `STEADY_SPACING` apart for `seconds`."""
    count = round(timedelta(seconds=seconds) / STEADY_SPACING)
    return [first + i * STEADY_SPACING for i in range(count)]


def same_day_or_wait(span: timedelta) -> None:
    """Buy and sell times are IST times of one day: sleep past midnight if `span` from now
    would cross it."""
    now = datetime.now(IST)
    if (now + span).date() != now.date():
        midnight = datetime.combine(now.date() + timedelta(days=1), clock_time(0), IST)
        wait_s = (midnight - now).total_seconds() + 1
        progress(f"waiting {wait_s:.0f} s for IST midnight to pass (times are of one day)")
        time.sleep(wait_s)


def sell_time_for(at: datetime) -> clock_time:
    """`SELL_AFTER` later, or the last instant of the day."""
    later = at + SELL_AFTER
    return later.time() if later.date() == at.date() else clock_time.max


# ---- helpers ------------------------------------------------------------------------


def progress(message: str) -> None:
    """One progress line (the JSON result is always the last line)."""
    print(f"[{datetime.now(IST):%H:%M:%S}] {message}", flush=True)


def pct(samples: Sequence[float], q: float) -> float | None:
    """The q-quantile (nearest rank below), None when there are no samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def spread_ms(samples: Sequence[float], name: str) -> dict[str, float | None]:
    """p50, p99 and max of millisecond samples."""
    return {f"{name}_p50_ms": pct(samples, 0.50), f"{name}_p99_ms": pct(samples, 0.99),
            f"{name}_max_ms": round(max(samples), 2) if samples else None}


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`, as Ctrl-C does


# ---- set-up through the real services ---------------------------------------------------


@dataclass
class Clients:
    """The benchmark's own connections."""

    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    nc: NatsClient
    js: JetStreamContext
    service: StrategyService


async def prepare(endpoints: Endpoints) -> None:
    """Instruments and streams, as `algo up` makes them."""
    await seed_reference_data(endpoints.database_url)
    nc = await connect_nats(endpoints.nats_url, name="bench-prepare")
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.drain()


async def add_users(sessions: async_sessionmaker[AsyncSession], count: int) -> list[str]:
    """`count` users, each a paper account."""
    user_ids = [new_id("usr") for _ in range(count)]
    async with sessions() as session, session.begin():
        await session.execute(insert(User), [
            {"id": u, "email": f"{u.lower()}@bench.local", "password_hash": "x",
             "role": "user", "is_active": True} for u in user_ids])
    return user_ids


async def set_prices(redis: Redis, symbols: Sequence[str]) -> None:
    """An LTP for every symbol, so the paper broker can fill (integer paise)."""
    await redis.mset({redis_keys.ltp("NSE", s): 100_000 + 1_000 * i
                      for i, s in enumerate(symbols)})


async def add_strategies(sessions: async_sessionmaker[AsyncSession],
                         planned: Sequence[Planned]) -> None:
    """CREATED paper strategies, inserted in bulk (starting them is the service's job)."""
    rows = [{"id": p.strategy_id, "user_id": p.user_id, "name": f"{p.phase}-{i}",
             "exchange": "NSE", "symbol": p.symbol, "buy_time": p.at.time(),
             "sell_time": sell_time_for(p.at) if p.sell_at is None else p.sell_at.time(),
             "stop_loss_type": "PERCENT",
             "stop_loss_value": Decimal("1.5"), "quantity": 1, "status": "CREATED",
             "position": "NONE", "rev": 0, "is_simulated": False}
            for i, p in enumerate(planned)]
    for start in range(0, len(rows), 5000):
        async with sessions() as session, session.begin():
            await session.execute(insert(Strategy), rows[start:start + 5000])


async def start_strategies(service: StrategyService, planned: Sequence[Planned]) -> None:
    """`StrategyService.start_many` per user (what POST /strategies/bulk/start runs)."""
    by_user: dict[str, list[str]] = defaultdict(list)
    for p in planned:
        by_user[p.user_id].append(p.strategy_id)
    queue = list(by_user.items())

    async def worker() -> None:
        while queue:
            user_id, strategy_ids = queue.pop()
            outcome = await service.start_many(user_id, strategy_ids)
            if outcome.failed:
                raise RuntimeError(f"start_many refused {len(outcome.failed)}: "
                                   f"{outcome.failed[:1]}")

    await asyncio.gather(*(worker() for _ in range(START_CONCURRENCY)))


async def arm(clients: Clients, planned: Sequence[Planned]) -> None:
    """Create and start `planned`."""
    await add_strategies(clients.sessions, planned)
    await start_strategies(clients.service, planned)


# ---- the pipeline -----------------------------------------------------------------------


@dataclass
class Pipeline:
    """The trigger and executor processes, with their shared log."""

    trigger: subprocess.Popen[bytes]
    executors: list[subprocess.Popen[bytes]]
    log_path: Path

    @property
    def procs(self) -> list[subprocess.Popen[bytes]]:
        """Every process."""
        return [self.trigger, *self.executors]

    def check_alive(self) -> None:
        """Raise with the log's tail if a process has exited."""
        for proc in self.procs:
            if proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"pipeline process {proc.args!r} exited with "
                                   f"{proc.returncode}:\n{tail}")

    def report_log(self, show: int = 5) -> int:
        """Show the first lines the processes logged (WARNING and above); returns how many."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        for line in lines[:show]:
            progress(f"pipeline log: {line[:400]}")
        return len(lines)


def spawn_pipeline(endpoints: Endpoints, data_dir: str, executors: int,
                   procs: list[subprocess.Popen[bytes]]) -> Pipeline:
    """One trigger and `executors` executors; each is appended to `procs` as it starts."""
    env = pipeline_env(endpoints, data_dir, **PIPELINE_SETTINGS)
    log_path = Path(data_dir) / "pipeline.log"
    trigger = start_roles(["trigger"], env, log_path)
    procs.append(trigger)
    started: list[subprocess.Popen[bytes]] = []
    for _ in range(executors):
        started.append(start_roles(["executor"], env, log_path))
        procs.append(started[-1])
    return Pipeline(trigger, started, log_path)


async def wait_for_heartbeats(redis: Redis, pipeline: Pipeline, timeout_s: float = 60) -> None:
    """Until every process has written its heartbeat."""
    deadline = time.monotonic() + timeout_s
    want = {"trigger": 1, "executor": len(pipeline.executors)}
    while time.monotonic() < deadline:
        pipeline.check_alive()
        keys = [key async for key in redis.scan_iter(match="heartbeat:*")]
        seen = Counter(str(key).split(":")[1] for key in keys)
        if all(seen[role] >= n for role, n in want.items()):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the pipeline processes did not start beating")


# ---- observation ------------------------------------------------------------------------


async def wait_settled(sessions: async_sessionmaker[AsyncSession], expected: int,
                       pipeline: Pipeline, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
    """Until `expected` BUY orders are final (or the timeout: the result shows what lacks)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pipeline.check_alive()
        async with sessions() as session:
            final = (await session.execute(select(func.count()).select_from(Order).where(
                Order.action == OrderAction.BUY.value, Order.completed_at.is_not(None)))
            ).scalar_one()
        if final >= expected:
            return
        await asyncio.sleep(0.25)
    progress(f"gave up waiting after {timeout_s:.0f} s for {expected} final orders")


async def sleep_until(moment: datetime) -> None:
    """Sleep until a wall-clock instant."""
    await asyncio.sleep(max(0.0, (moment - datetime.now(IST)).total_seconds()))


async def db_sessions(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Connections ever opened to the database (PostgreSQL 14+ counts them)."""
    async with sessions() as session:
        return int((await session.execute(text(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()")))
            .scalar_one())


async def consumer_state(js: JetStreamContext) -> dict[str, int]:
    """The executor consumer's leftovers and the dead-letter count."""
    info = await js.consumer_info(subjects.COMMANDS, "executor")
    dlq = await js.stream_info(subjects.DLQ)
    return {"commands_redelivered": info.num_redelivered or 0,
            "commands_ack_pending": info.num_ack_pending or 0,
            "commands_pending": info.num_pending or 0,
            "dead_letters": dlq.state.messages}


# ---- results ----------------------------------------------------------------------------


def exactly_once(prefix: str, planned: Sequence[Planned], watch: CommandWatch,
                 book: Book) -> dict[str, Any]:
    """Counts, and each strategy checked for exactly one command and one paper order."""
    ids = [p.strategy_id for p in planned]
    missing = [sid for sid in ids if not book.received.get(sid)]
    twice = [sid for sid in ids if len(book.received.get(sid, ())) > 1]
    return {
        f"{prefix}_strategies": len(ids),
        f"{prefix}_commands_seen": sum(len(watch.issued.get(sid, ())) for sid in ids),
        f"{prefix}_commands_repeated": sum(1 for sid in ids if len(watch.issued.get(sid, ())) > 1),
        f"{prefix}_paper_orders": sum(len(book.received.get(sid, ())) for sid in ids),
        f"{prefix}_filled": sum(1 for sid in ids if sid in book.filled_at),
        f"{prefix}_missing": len(missing),
        f"{prefix}_missing_examples": missing[:5],
        f"{prefix}_duplicate_strategies": len(twice),
        f"{prefix}_duplicate_examples": twice[:5],
    }


def steady_result(planned: Sequence[Planned], watch: CommandWatch,
                  book: Book) -> dict[str, Any]:
    """Fire → received (split at the intent row), scheduled → fire and fire → FILLED, in ms."""
    to_received: list[float] = []
    to_intent: list[float] = []
    intent_to_received: list[float] = []
    lateness: list[float] = []
    to_filled: list[float] = []
    for p in planned:
        fired = watch.issued.get(p.strategy_id)
        if not fired:
            continue
        lateness.append((fired[0] - epoch_ns(p.at)) / 1e6)
        received = book.received.get(p.strategy_id)
        intent = book.intent_at.get(p.strategy_id)
        if received:
            to_received.append((min(received) - fired[0]) / 1e6)
        if intent is not None:
            to_intent.append((intent - fired[0]) / 1e6)
            if received:
                intent_to_received.append((min(received) - intent) / 1e6)
        if p.strategy_id in book.filled_at:
            to_filled.append((book.filled_at[p.strategy_id] - fired[0]) / 1e6)
    return {**exactly_once("steady", planned, watch, book),
            **spread_ms(to_received, "steady_fire_to_received"),
            **spread_ms(to_intent, "steady_fire_to_intent"),
            **spread_ms(intent_to_received, "steady_intent_to_received"),
            **spread_ms(lateness, "steady_schedule_to_fire"),
            **spread_ms(to_filled, "steady_fire_to_filled")}


def burst_result(planned: Sequence[Planned], watch: CommandWatch,
                 book: Book) -> dict[str, Any]:
    """From the common instant to the last fire, last paper order and last FILLED, in ms."""
    at = epoch_ns(planned[0].at)

    def last_ms(values: Iterable[int]) -> float | None:
        values = list(values)
        return round((max(values) - at) / 1e6, 1) if values else None

    ids = [p.strategy_id for p in planned]
    return {**exactly_once("burst", planned, watch, book),
            "burst_users": len({p.user_id for p in planned}),
            "burst_to_last_fire_ms": last_ms(t for sid in ids for t in watch.issued.get(sid, ())),
            "burst_to_last_received_ms": last_ms(
                t for sid in ids for t in book.received.get(sid, ())),
            "burst_to_last_filled_ms": last_ms(
                book.filled_at[sid] for sid in ids if sid in book.filled_at)}


def write_samples(path: Path, planned: Sequence[Planned], watch: CommandWatch,
                  book: Book) -> None:
    """One CSV row per strategy with its instants (epoch ns; empty when missing)."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phase", "strategy_id", "user_id", "scheduled_ns", "fired_ns",
                         "intent_ns", "received_ns", "filled_ns", "commands", "paper_orders"])
        for p in planned:
            fired = watch.issued.get(p.strategy_id, [])
            received = book.received.get(p.strategy_id, [])
            writer.writerow([p.phase, p.strategy_id, p.user_id, epoch_ns(p.at),
                             fired[0] if fired else "", book.intent_at.get(p.strategy_id, ""),
                             min(received) if received else "",
                             book.filled_at.get(p.strategy_id, ""), len(fired), len(received)])


def verdict(result: dict[str, Any], book: Book) -> dict[str, Any]:
    """The issue's targets, met or not, and any exactly-once problem."""
    problems = [f"{key}={value}" for key, value in result.items()
                if key.endswith(("_missing", "_duplicate_strategies", "_commands_repeated"))
                and value]
    if book.tags_repeated:
        problems.append(f"paper client tags repeated={book.tags_repeated}")
    if book.unmatched:
        problems.append(f"paper orders without an order row={book.unmatched}")
    p99 = result.get("steady_fire_to_received_p99_ms")
    drain = result.get("burst_to_last_filled_ms")
    return {"target_steady_p99_le_20ms": p99 is not None and p99 <= 20,
            "target_burst_le_2s_exactly_1000": drain is not None and drain <= 2000
            and result["burst_paper_orders"] == BURST and not result["burst_missing"]
            and not result["burst_duplicate_strategies"],
            "problems": problems}


# ---- the run ----------------------------------------------------------------------------


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


async def populate(clients: Clients, user_count: int) -> tuple[list[str], list[str]]:
    """Users and prices; returns (users, symbols)."""
    symbols = [row["symbol"] for row in bundled_nse_equities()[:SYMBOLS]]
    users = await add_users(clients.sessions, user_count)
    await set_prices(clients.redis, symbols)
    return users, symbols


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
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        print(json.dumps(main(args.seconds, args.executors, args.users, args.samples)), flush=True)
    except KeyboardInterrupt:
        sys.exit(130)
