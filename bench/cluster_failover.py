"""Failover on the three-node JetStream cluster (issue 11): no order lost or duplicated.

Starts `deploy/nats-cluster/`'s three nodes on loopback (core/embedded/nats_cluster.py),
embedded PostgreSQL and Redis, creates the streams with three replicas, and runs the order
pipeline as its own processes against the comma-separated cluster URL: one trigger, two
executors and two slwatch replicas (partitions 0/2 and 1/2). Paper strategies BUY at times
spread over N seconds (default 60) at `--rate` a second; half SELL `--sell-after` seconds
later, half sit on symbols whose ticks (published all along, `--tick-rate` a second) are
under their stop-loss, so their slwatch replica fires SL_EXIT (bench/cluster_book.py). Meanwhile:

    at 0.25 N  SIGKILL a NATS node: the leader of COMMANDS (`--kill leader`, the default)
               or one that leads no stream (`--kill follower`)
    `--down` s later (default 12)  restart it on its own store, wait until it caught up
    2 s later  SIGKILL one executor (the other takes its commands after the ack wait)

    .venv/bin/python bench/cluster_failover.py [--seconds N] [--rate R] [--tick-rate T]
                                               [--kill leader|follower] [--down S] [--keep DIR]

N must leave BUYs due after the executor's death (N >= 24 with the defaults). Prints
progress lines, then one JSON object last: orders expected / placed / duplicated / lost,
strategies not in their end state, `stall_s` (the longest the broker received nothing from
the kill until the node was back), orders placed while it was down, the BUY delays, and
the machine's load (`run_other_cores`: load from outside the benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from nats.aio.client import Client as NatsClient

from bench.cluster_book import plan, read_ledger, settled, split_symbols, stall, verdict
from bench.cpu import CpuMeter, postmaster_pid
from bench.order_plan import Planned, same_day_or_wait
from bench.order_setup import Clients, arm, populate
from bench.pipelineproc import pipeline_env, start_roles, stop_all
from bench.progress import on_sigterm, progress
from core import aio, redis_keys, subjects
from core.bootstrap import seed_reference_data
from core.clock import IST, RealClock
from core.db import migrate
from core.db.engine import create_engine, session_factory
from core.embedded.nats_cluster import ClusterNode, NatsCluster
from core.embedded.stack import EmbeddedStack, Endpoints
from core.events import EventPublisher
from core.messages import Tick, encode
from core.nats import connect_nats
from core.redis import create_redis
from core.settings import Settings
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import Limits
from core.streams import StreamSpecOptions, ensure_streams

ACK_WAIT_S: Final = 6.0
"""The executor's ack wait and order-lock TTL in this run (production: 30 s and 60 s):
how soon the surviving executor takes over the killed one's commands."""
PIPELINE_SETTINGS: Final = {
    "ALGO_ENV": "dev", "ALGO_PAPER_ALWAYS_OPEN": "1", "ALGO_LOG_LEVEL": "WARNING",
    "ALGO_STREAM_REPLICAS": "3", "ALGO_EXECUTOR_ACK_WAIT_S": str(ACK_WAIT_S),
    "ALGO_ORDER_LOCK_TTL_S": str(ACK_WAIT_S)}
FALL: Final = Decimal("0.90")
"""Falling symbols tick at 90% of the fill price; the stop-loss is 1.5% under it."""
SETTLE_TIMEOUT_S: Final = 90.0


@dataclass(frozen=True)
class Options:
    """The run's size and pace."""

    seconds: float = 60.0
    rate: float = 10.0
    """BUYs a second."""
    sell_after_s: float = 15.0
    """From a `sell` strategy's BUY to its SELL: longer than any stall, so a SELL never
    overtakes its own BUY (the executor would skip it, rightly)."""
    tick_rate: float = 400.0
    users: int = 50
    down_s: float = 12.0
    """How long the killed node stays down: past JetStream's longest Raft election (a
    follower waits 4-9 s for a lost leader, server/raft.go), so the run shows the cluster
    serving without it."""
    kill: Literal["leader", "follower"] = "leader"
    """Which node dies: the leader of COMMANDS (writes wait for an election) or a node
    leading none of the streams."""


@dataclass
class Faults:
    """What was done to the cluster and the pipeline, and when (epoch ns)."""

    node: str = ""
    down_ns: int = 0
    elected_ns: int = 0
    """When a surviving node first answered as the leader of COMMANDS (0: never seen)."""
    up_ns: int = 0
    rejoin_s: float = 0.0
    executor_pid: int = 0
    executor_killed_ns: int = 0


@dataclass
class Pipeline:
    """The pipeline processes by role."""

    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    killed: set[int] = field(default_factory=set)
    log_path: Path = Path()

    def check_alive(self) -> None:
        """Raise with the log's tail if a process we did not kill has exited."""
        for proc in (p for ps in self.procs.values() for p in ps):
            if proc.pid not in self.killed and proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{tail}")


def spawn(endpoints: Endpoints, data_dir: Path, all_procs: list[subprocess.Popen[bytes]],
          ) -> Pipeline:
    """trigger, two executors, slwatch 0/2 and 1/2, each its own process."""
    pipeline = Pipeline(log_path=data_dir / "pipeline.log")
    base = pipeline_env(endpoints, str(data_dir), **PIPELINE_SETTINGS)
    for role, envs in (("trigger", [base]), ("executor", [base, base]),
                       ("slwatch", [{**base, "ALGO_SLWATCH_PARTITION": f"{i}/2"}
                                    for i in range(2)])):
        for env in envs:
            proc = start_roles([role], env, pipeline.log_path)
            all_procs.append(proc)
            pipeline.procs.setdefault(role, []).append(proc)
    return pipeline


async def wait_for_heartbeats(clients: Clients, pipeline: Pipeline,
                              timeout_s: float = 90.0) -> None:
    """Until every process has written its heartbeat."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pipeline.check_alive()
        keys = [key async for key in clients.redis.scan_iter(match="heartbeat:*")]
        seen = Counter(str(key).split(":")[1] for key in keys)
        if all(seen[role] >= len(procs) for role, procs in pipeline.procs.items()):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the pipeline processes did not start beating")


async def create_streams(nc: NatsClient, timeout_s: float = 30.0) -> None:
    """The streams with three replicas, once the cluster has its meta leader."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await ensure_streams(nc.jetstream(), StreamSpecOptions(replicas=3))
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)


async def publish_ticks(nc: NatsClient, prices: dict[str, int], falling: Sequence[str],
                        rate: float) -> None:
    """Ticks on every symbol, round robin, `rate` a second, for ever (falling ones low)."""
    low = {s: int(prices[s] * FALL) for s in falling}
    batch = len(prices)
    while True:
        now = time.time_ns()
        for symbol, paise in prices.items():
            tick = Tick(exchange="NSE", symbol=symbol, ltp_paise=low.get(symbol, paise),
                        exchange_ts=now, received_ts=now)
            await nc.publish(subjects.tick("NSE", symbol), encode(tick))
        await asyncio.sleep(batch / rate)


async def victim_node(cluster: NatsCluster, nc: NatsClient, kill: str) -> ClusterNode:
    """The leader of COMMANDS, or a node that leads no stream (if there is one)."""
    js = nc.jetstream()
    leaders = []
    for stream in (subjects.COMMANDS, subjects.EVENTS, subjects.TICKS, subjects.DLQ):
        info = await js.stream_info(stream)
        leaders.append(info.cluster.leader if info.cluster else None)
    if kill == "leader" and leaders[0]:
        return cluster.node(leaders[0])
    spare = [n for n in cluster.nodes if n.name not in leaders]
    return (spare or [n for n in cluster.nodes if n.name != leaders[0]])[0]


async def inflict(cluster: NatsCluster, nc: NatsClient, pipeline: Pipeline,
                  t0: datetime, options: Options, faults: Faults) -> None:
    """Kill a NATS node, bring it back, then kill an executor, on schedule."""
    await sleep_until(t0 + timedelta(seconds=0.25 * options.seconds))
    node = await victim_node(cluster, nc, options.kill)
    cluster.kill(node)
    faults.node, faults.down_ns = node.name, time.time_ns()
    progress(f"SIGKILLed NATS node {node.name} ({options.kill})")
    faults.elected_ns = await new_leader(nc, node.name, options.down_s)
    if faults.elected_ns:
        progress(f"COMMANDS led by a survivor after "
                 f"{(faults.elected_ns - faults.down_ns) / 1e9:.2f} s")
    await asyncio.sleep(max(0.0, options.down_s - (time.time_ns() - faults.down_ns) / 1e9))
    began = time.monotonic()
    await asyncio.to_thread(cluster.restart, node)
    faults.up_ns, faults.rejoin_s = time.time_ns(), round(time.monotonic() - began, 2)
    progress(f"node {node.name} restarted and caught up in {faults.rejoin_s} s")
    await asyncio.sleep(2.0)
    victim = pipeline.procs["executor"][0]
    pipeline.killed.add(victim.pid)
    victim.kill()
    faults.executor_pid, faults.executor_killed_ns = victim.pid, time.time_ns()
    progress(f"SIGKILLed executor pid {victim.pid}")


async def new_leader(nc: NatsClient, dead: str, within_s: float) -> int:
    """Poll COMMANDS' stream info until a node other than `dead` answers as its leader;
    the epoch ns it was first seen (0 if not within `within_s`). The Raft election alone:
    what the pipeline's stall cannot be shorter than."""
    js = nc.jetstream(timeout=0.5)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            info = await js.stream_info(subjects.COMMANDS)
            leader = info.cluster.leader if info.cluster else None
            if leader and leader != dead:
                return time.time_ns()
        await asyncio.sleep(0.05)
    return 0


async def sleep_until(moment: datetime) -> None:
    """Sleep until a wall-clock instant."""
    await asyncio.sleep(max(0.0, (moment - datetime.now(IST)).total_seconds()))


async def run_failover(cluster: NatsCluster, database_url: str, redis_url: str,
                       data_dir: Path, options: Options,
                       procs: list[subprocess.Popen[bytes]]) -> dict[str, Any]:
    """The whole scenario on running servers (migrated, seeded); every process it starts is
    appended to `procs` for the caller to stop."""
    endpoints = Endpoints(None, cluster.url, None, database_url, redis_url, ())
    engine = create_engine(database_url, pool_size=8)
    redis = create_redis(redis_url)
    nc = await connect_nats(cluster.url, name="bench-failover")
    tasks: list[asyncio.Task[None]] = []
    try:
        await create_streams(nc)
        clock, js, sessions = RealClock(), nc.jetstream(), session_factory(engine)
        clients = Clients(sessions, redis, nc, js, StrategyService(
            sessions, redis, EventPublisher(js, clock), clock,
            Limits(10_000, Decimal(20), Decimal(20), paper_always_open=True)))
        users, symbols = await populate(clients, options.users)
        quiet, falling = split_symbols(symbols, 2)
        prices = {s: int(await redis.get(redis_keys.ltp("NSE", s)) or 0) for s in symbols}
        pipeline = spawn(endpoints, data_dir, procs)
        await wait_for_heartbeats(clients, pipeline)
        pids = {role: [p.pid for p in ps] for role, ps in pipeline.procs.items()}
        progress(f"pipeline beating: {pids}")
        count = max(4, round(options.seconds * options.rate))
        t0 = datetime.now(IST) + timedelta(seconds=5 + count / 100)
        planned = plan(t0, count, timedelta(seconds=1 / options.rate),
                       timedelta(seconds=options.sell_after_s), users, quiet, falling)
        await arm(clients, planned)
        progress(f"armed {count} strategies; first BUY in "
                 f"{(t0 - datetime.now(IST)).total_seconds():.1f} s")
        faults = Faults()
        tasks = [asyncio.create_task(publish_ticks(nc, prices, falling, options.tick_rate)),
                 asyncio.create_task(inflict(cluster, nc, pipeline, t0, options, faults))]
        cpu = CpuMeter({"executor": [p.pid for p in pipeline.procs["executor"]],
                        "nats": [n.proc.pid for n in cluster.nodes if n.proc]},
                       [os.getpid()])
        await sleep_until(t0)
        cpu.start()
        settle_s = await wait_settled(clients, planned, pipeline, tasks[1])
        usage = cpu.stop("run", 2 * count)
        await asyncio.sleep(2.0)  # anything late or repeated has time to show
        ledger = await read_ledger(sessions)
        dlq = await js.stream_info(subjects.DLQ)
        return {**verdict(planned, ledger), **stall(planned, ledger, faults.down_ns,
                                                    faults.up_ns),
                "killed_node": faults.node, "kill": options.kill,
                "election_s": round((faults.elected_ns - faults.down_ns) / 1e9, 3)
                if faults.elected_ns else None,
                "node_down_s": round((faults.up_ns - faults.down_ns) / 1e9, 2),
                "node_rejoin_s": faults.rejoin_s, "killed_executor_pid": faults.executor_pid,
                "settled_after_last_due_s": settle_s, "dlq_messages": dlq.state.messages,
                "quiet_symbols": len(quiet), "falling_symbols": len(falling), **usage}
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        await nc.close()
        await redis.aclose()
        await engine.dispose()


async def wait_settled(clients: Clients, planned: Sequence[Planned], pipeline: Pipeline,
                       faults_task: asyncio.Task[None]) -> float:
    """Until every exit order is final; returns the seconds after the last one was due."""
    last_due = max(p.sell_at or p.at for p in planned)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S + \
        (last_due - datetime.now(IST)).total_seconds()
    while time.monotonic() < deadline:
        pipeline.check_alive()
        if faults_task.done():
            faults_task.result()  # raises what went wrong inflicting the faults
            if settled(planned, await read_ledger(clients.sessions)):
                return round((datetime.now(IST) - last_due).total_seconds(), 1)
        await asyncio.sleep(1.0)
    progress("timed out waiting for every exit to be final")
    return -1.0


def main(options: Options, keep: Path | None = None) -> dict[str, Any]:
    """Start the cluster and servers, run the scenario, stop everything that was started."""
    same_day_or_wait(timedelta(minutes=5) + timedelta(seconds=options.seconds * 2))
    started = time.monotonic()
    with contextlib.ExitStack() as scope:
        root = keep or Path(scope.enter_context(
            tempfile.TemporaryDirectory(prefix="algo-failover-")))
        cluster = NatsCluster(root / "nats")
        cluster.start()
        settings = Settings(env="dev", data_dir=root, nats_url=cluster.url, database_url=None,
                            redis_url=None, redis_port=0)
        stack = EmbeddedStack(settings, persistent_redis=False)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            endpoints = stack.start()
            migrate.upgrade(endpoints.database_url)
            aio.run(seed_reference_data(endpoints.database_url))
            progress(f"cluster and servers up in {time.monotonic() - started:.1f} s "
                     f"(postgres pid {postmaster_pid(stack)})")
            result: dict[str, Any] = {"bench": "cluster_failover", "seconds": options.seconds,
                                      "executor_ack_wait_s": ACK_WAIT_S,
                                      "rate_per_s": options.rate,
                                      "tick_rate_per_s": options.tick_rate}
            result.update(aio.run(run_failover(cluster, endpoints.database_url,
                                               endpoints.redis_url, root, options, procs)))
            result["targets_met"] = (result["orders_duplicated"] == 0
                                     and result["orders_lost"] == 0
                                     and result["strategies_wrong_state"] == 0
                                     and result["stall_s"] <= 5.0)
            result["run_s"] = round(time.monotonic() - started, 1)
            return result
        finally:
            stop_all(procs)
            stack.stop()
            cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=10.0, help="BUYs a second")
    parser.add_argument("--tick-rate", type=float, default=400.0)
    parser.add_argument("--sell-after", type=float, default=15.0)
    parser.add_argument("--kill", choices=["leader", "follower"], default="leader")
    parser.add_argument("--down", type=float, default=12.0, help="seconds the node is down")
    parser.add_argument("--keep", type=Path, default=None,
                        help="run in this directory and keep it (node, pipeline logs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING,
                        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        print(json.dumps(main(Options(args.seconds, args.rate, args.sell_after,
                                      args.tick_rate, down_s=args.down, kill=args.kill),
                              args.keep)), flush=True)
    except KeyboardInterrupt:
        sys.exit(130)
