"""Stop-loss latency: tick published → SL exit command stored in COMMANDS (issue 6).

Starts its own servers (embedded NATS, PostgreSQL, Redis, as `algo up` does) and one
`python -m pipeline slwatch` process, and no executor: nothing consumes the commands, and
the watcher needs no reply to disarm (a fired stop leaves the index at once and its exit
stays in flight until an order event says otherwise). 100,000 BOUGHT positions over 2,000
symbols are armed the way the real watcher arms them: runtime records written to Redis with
`RuntimeStore.put_many` (as the strategy service and the executor do), read by the watcher's
snapshot; it needs no PostgreSQL row. This process then publishes ticks through the feed's
own `TickPublisher` at a steady rate, a fraction of them breaching known stops (see
bench/sl_plan.py), for N seconds (default 60).

    .venv/bin/python bench/sl_latency.py [--seconds N] [--rate 20000] [--fraction 0.01]

What is measured, per expected exit: from the breaching tick's `received_ts` (stamped as it
is handed to the publisher, as the feed stamps a tick it receives) to the timestamp the
COMMANDS stream gave the command when it stored it (read back by sequence after the run;
same host, same wall clock, microsecond precision). `seen_*` is the same up to the command's
arrival on a core subscription of this process (the server routes a publish to core
subscribers as it hands it to the stream, so that one does not prove storage). The command's
`issued_at` splits it: `issued_*` is tick → command built in the watcher (feed publish, one
core NATS hop, the watcher), `issued_to_stored_*` is the JetStream publish and store (fsync
on every write, see nats.conf). `floor_hop_*` is bench/jetstream_hop.py's command hop measured
just before the ticks start: on a shared machine the disk and the other load move it a lot.
Ticks of the first `--warmup` seconds count for exactly-once but not for the percentiles.

Prints progress lines (with the watcher's pid, for py-spy), then one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

from bench.cpu import CpuMeter, postmaster_pid
from bench.jetstream_hop import command_hop
from bench.pipelineproc import pipeline_env, start_roles, stop_all
from bench.sl_observe import Backlog, CommandLog, stored
from bench.sl_plan import EXCHANGE, Plan, Schedule, build_plan, rupees
from core import aio, subjects
from core.clock import IST
from core.embedded.stack import EmbeddedStack, Endpoints
from core.ids import new_id
from core.messages import Tick
from core.nats import connect_nats
from core.redis import create_redis
from core.settings import Settings
from core.strategies.runtime import RuntimeStore, StrategyRuntime
from core.streams import ensure_streams
from pipeline.feed.publisher import TickPublisher

PROBE_SYMBOL: Final = "SLPROBE"
PROBE_PAISE: Final = 100_000
WINDOWS: Final = 6
"""The run is cut into this many windows to show whether latency grows (a backlog)."""
SETTLE_TIMEOUT_S: Final = 30.0
FLOOR_S: Final = 3.0
PIPELINE_SETTINGS: Final = {"ALGO_ENV": "dev"}


def progress(message: str) -> None:
    """One progress line (the JSON result is always the last line)."""
    print(f"[{datetime.now(IST):%H:%M:%S}] {message}", flush=True)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`, as Ctrl-C does


# ---- set-up ---------------------------------------------------------------------------


def probe_record(day: str) -> StrategyRuntime:
    """One more armed position on a symbol of its own: its exit shows the watcher is up."""
    return StrategyRuntime(
        user_id="usr_probe", strategy_id=new_id("str"), rev=1, status="RUNNING",
        exchange=EXCHANGE, symbol=PROBE_SYMBOL, buy_time="09:20:00", sell_time="15:10:00",
        stop_loss_type="PRICE", stop_loss_value=rupees(PROBE_PAISE), quantity=1,
        broker="paper", is_simulated=False, position="BOUGHT",
        entry_price=rupees(PROBE_PAISE + 1000), position_day=day)


async def arm(redis_url: str, records: list[StrategyRuntime]) -> None:
    """Write the runtime records to Redis as the strategy service does."""
    redis = create_redis(redis_url)
    store = RuntimeStore(redis)
    for start in range(0, len(records), 2000):
        await store.put_many(records[start:start + 2000])
    await redis.aclose()


async def prepare(nats_url: str) -> None:
    """The streams, as `algo up` creates them."""
    nc = await connect_nats(nats_url, name="bench")
    await ensure_streams(nc.jetstream())
    await nc.drain()


# ---- the run --------------------------------------------------------------------------


@dataclass
class Drive:
    """What was published: each expected exit's tick instant, by `Nats-Msg-Id`."""

    expected: dict[str, int] = field(default_factory=dict)
    measured: set[str] = field(default_factory=set)
    """Exits of ticks after the warm-up."""
    sent: int = 0
    breaching_ticks: int = 0
    began_ns: int = 0
    elapsed_s: float = 0.0
    last_tick_ns: int = 0


async def wait_ready(publisher: TickPublisher, log: CommandLog, msg_id: str,
                     alive: Any, timeout_s: float = 180.0) -> float:
    """Publish the probe's breaching tick until its exit is seen; returns the seconds."""
    began = time.monotonic()
    subject = subjects.tick(EXCHANGE, PROBE_SYMBOL)
    while msg_id not in log.seen:
        if time.monotonic() - began > timeout_s or not alive():
            raise RuntimeError("the watcher did not come up (see pipeline.log)")
        now = time.time_ns()
        publisher.add(subject, Tick(exchange=EXCHANGE, symbol=PROBE_SYMBOL,
                                    ltp_paise=PROBE_PAISE, exchange_ts=now, received_ts=now))
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def drive(publisher: TickPublisher, schedule: Schedule, day: str, rate: float,
                seconds: float, warmup_s: float) -> Drive:
    """Publish `rate` ticks a second for `seconds` (plus the warm-up), paced by the clock."""
    run = Drive()
    total = int(rate * (seconds + warmup_s))
    warm = int(rate * warmup_s)
    add, flush, clock = publisher.add, publisher.flush, time.perf_counter
    started = clock()
    run.began_ns = time.time_ns()
    while run.sent < total:
        due = min(total, int((clock() - started) * rate) + 1)
        while run.sent < due:
            now = time.time_ns()
            subject, tick, breached = schedule.next(now)
            if add(subject, tick):
                await flush()
            run.sent += 1
            if breached:
                run.breaching_ticks += 1
                for sid in breached:
                    msg_id = subjects.order_msg_id(sid, day, "SL_EXIT")
                    run.expected[msg_id] = now
                    if run.sent > warm:
                        run.measured.add(msg_id)
        await asyncio.sleep(0.001)  # the publisher's flusher sends the batch meanwhile
    await flush()
    run.last_tick_ns = time.time_ns()
    run.elapsed_s = clock() - started
    return run


async def settle(log: CommandLog, run: Drive, timeout_s: float = SETTLE_TIMEOUT_S) -> float:
    """Until every expected exit was seen (or the timeout); ms from the last tick."""
    log.expect(set(run.expected))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(log.all_seen.wait(), timeout_s)
    last = max((log.seen[m][0] for m in run.expected if m in log.seen), default=run.last_tick_ns)
    return round(max(0, last - run.last_tick_ns) / 1e6, 3)


def percentiles(name: str, values_ns: list[int]) -> dict[str, float | None]:
    """p50, p99, p99.9 and max in ms (nearest rank)."""
    ordered = sorted(values_ns)

    def at(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 3)

    return {f"{name}_p50_ms": at(0.50), f"{name}_p99_ms": at(0.99),
            f"{name}_p999_ms": at(0.999), f"{name}_max_ms": at(1.0)}


def results(run: Drive, log: CommandLog, store: dict[str, list[int]],
            issued: dict[str, int], probe_id: str, seconds: float) -> dict[str, Any]:
    """Throughput, exactly-once and latency figures."""
    store.pop(probe_id, None)
    for msg_id in [m for m in store if m.endswith(":BUY")]:
        del store[msg_id]  # the floor measurement's commands (the watcher issues no BUY)
    exits_by_strategy = Counter(m.split(":", 1)[0] for m in store)
    lat = [store[m][0] - run.expected[m] for m in run.measured if m in store]
    seen = [log.seen[m][0] - run.expected[m] for m in run.measured if m in log.seen]
    # The split at the watcher's clock: tick → command built, command built → stored.
    built = [issued[m] - run.expected[m] for m in run.measured if m in issued]
    publish = [store[m][0] - issued[m] for m in run.measured if m in issued]
    span = (seconds * 1e9) / WINDOWS
    warm_end = run.last_tick_ns - seconds * 1e9
    windows: list[list[int]] = [[] for _ in range(WINDOWS)]
    for m in run.measured:
        if m in store:
            slot = int((run.expected[m] - warm_end) // span)
            windows[max(0, min(WINDOWS - 1, slot))].append(store[m][0] - run.expected[m])
    return {
        "ticks_sent": run.sent,
        "ticks_per_s": round(run.sent / run.elapsed_s),
        "breaching_ticks": run.breaching_ticks,
        "breaches_expected": len(run.expected),
        "breaches_detected": sum(1 for m in run.expected if m in store),
        "missing": sum(1 for m in run.expected if m not in store),
        "unexpected_commands": sum(len(v) for m, v in store.items() if m not in run.expected),
        "duplicate_stored": sum(len(v) - 1 for v in store.values()),
        "strategies_exited_twice": sum(1 for n in exits_by_strategy.values() if n > 1),
        "republished": sum(len(v) - 1 for m, v in log.seen.items() if m != probe_id),
        "latency_samples": len(lat),
        **percentiles("stored", lat),
        **percentiles("seen", seen),
        **percentiles("issued", built),
        **percentiles("issued_to_stored", publish),
        "window_p50_ms": [percentiles("w", w)["w_p50_ms"] for w in windows],
        "window_p99_ms": [percentiles("w", w)["w_p99_ms"] for w in windows],
    }


async def measure(endpoints: Endpoints, plan: Plan, day: str, probe: StrategyRuntime,
                  args: argparse.Namespace, cpu_of: dict[str, list[int]],
                  roots: list[int], alive: Any) -> dict[str, Any]:
    """Probe, drive, settle, read back; everything that needs this process's loop."""
    nc = await connect_nats(endpoints.nats_url, name="bench")
    js = nc.jetstream()
    log = CommandLog()
    await log.start(nc)
    publisher = TickPublisher(nc, logging.getLogger("bench.feed"))
    flusher = asyncio.create_task(publisher.run())
    probe_id = subjects.order_msg_id(probe.strategy_id, day, "SL_EXIT")
    ready_s = await wait_ready(publisher, log, probe_id, alive)
    # The bus floor right now (disk fsync and other load vary a lot on a shared machine):
    # one COMMANDS hop as bench/jetstream_hop.py measures it, before the ticks start.
    floor = await command_hop(js, FLOOR_S)
    await js.delete_consumer(subjects.COMMANDS, "bench-executor")
    progress(f"watcher armed and ticking after {ready_s:.1f} s; floor {floor}; driving "
             f"{args.rate:.0f} ticks/s for {args.warmup:.0f} + {args.seconds:.0f} s")
    gc.collect()
    gc.freeze()
    backlog = Backlog(endpoints.nats_monitor_url)
    sampler = asyncio.create_task(backlog.run())
    cpu = CpuMeter(cpu_of, roots)
    cpu.start()
    run = await drive(publisher, Schedule(plan, args.fraction), day, args.rate,
                      args.seconds, args.warmup)
    usage = cpu.stop("drive", max(1, run.sent))
    drain_ms = await settle(log, run)
    sampler.cancel()
    flusher.cancel()
    result = results(run, log, *await stored(js), probe_id, args.seconds)
    result["drain_after_last_tick_ms"] = drain_ms
    result["floor_hop_p50_ms"] = floor["hop_p50_ms"]
    result["floor_hop_p99_ms"] = floor["hop_p99_ms"]
    result["ticks_shed"] = publisher.shed
    result["slwatch_server_pending_bytes_max"] = backlog.max_pending_bytes
    result["slow_consumers"] = await backlog.slow_consumers()
    cores = usage.get("drive_slwatch_cores")
    if cores is not None:
        result["slwatch_cores"] = cores
        result["slwatch_cpu_us_per_tick"] = round(cores * run.elapsed_s / run.sent * 1e6, 2)
    for key in ("machine_busy_pct", "bench_cores", "other_cores", "nats_cores"):
        if f"drive_{key}" in usage:
            result[key] = usage[f"drive_{key}"]
    await nc.drain()
    return result


def verdict(result: dict[str, Any], rate: float) -> dict[str, Any]:
    """The issue's targets, each true or false."""
    p99 = result.get("stored_p99_ms")
    # A backlog shows as a median that climbs window after window and a drain after the
    # last tick; a p99 is too noisy on a shared machine to judge by.
    windows = [w for w in result["window_p50_ms"] if w is not None]
    return {
        "target_rate": result["ticks_per_s"] >= 0.99 * rate and not result["ticks_shed"],
        "target_no_backlog": result["drain_after_last_tick_ms"] < 100
        and (not windows or windows[-1] <= 2 * windows[0]),
        "target_exactly_once": result["missing"] == 0
        and result["unexpected_commands"] == 0 and result["duplicate_stored"] == 0
        and result["strategies_exited_twice"] == 0,
        "target_p99_1ms": p99 is not None and p99 <= 1.0,
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Servers, records, the watcher process, the run; everything stopped at the end."""
    day = datetime.now(IST).date()
    with tempfile.TemporaryDirectory(prefix="algo-bench-", dir=args.data_dir) as tmp:
        settings = Settings(env="dev", data_dir=Path(tmp), nats_port=0, nats_monitor_port=0,
                            redis_port=0)
        stack = EmbeddedStack(settings, persistent_redis=False)
        endpoints = stack.start()
        procs = []
        try:
            aio.run(prepare(endpoints.nats_url))
            plan = build_plan(args.symbols, args.stops // args.symbols, args.per_level, day)
            probe = probe_record(day.isoformat())
            began = time.perf_counter()
            aio.run(arm(endpoints.redis_url, [*plan.records, probe]))
            progress(f"{len(plan.records)} positions armed in Redis in "
                     f"{time.perf_counter() - began:.1f} s")
            env = pipeline_env(endpoints, tmp, **PIPELINE_SETTINGS)
            log_path = Path(tmp) / "pipeline.log"
            watcher = start_roles(["slwatch"], env, log_path)
            procs.append(watcher)
            nats_pid = stack.nats.proc.pid if stack.nats and stack.nats.proc else None
            progress(f"slwatch pid {watcher.pid} (py-spy record -p {watcher.pid})")
            result: dict[str, Any] = {
                "bench": "sl_latency", "seconds": args.seconds, "rate": args.rate,
                "fraction": args.fraction, "positions": len(plan.records),
                "symbols": args.symbols, "per_level": args.per_level}
            result.update(aio.run(measure(
                endpoints, plan, day.isoformat(), probe, args,
                {"slwatch": [watcher.pid], "nats": [nats_pid] if nats_pid else []},
                [os.getpid(), *postmaster_pid(stack)], lambda: watcher.poll() is None)))
            errors = [line for line in log_path.read_text(errors="replace").splitlines()
                      if '"level": "ERROR"' in line or "Traceback" in line]
            result["watcher_errors"] = len(errors)
            result.update(verdict(result, args.rate))
            return result
        finally:
            stop_all(procs)
            stack.stop()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _sigterm)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=20_000.0, help="ticks per second")
    parser.add_argument("--fraction", type=float, default=0.01,
                        help="share of ticks that breach a stop level")
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--stops", type=int, default=100_000)
    parser.add_argument("--per-level", type=int, default=1,
                        help="positions sharing each stop level (exits per breaching tick)")
    parser.add_argument("--data-dir", default=None,
                        help="where the servers keep their data (default: the system temp dir); "
                             "/dev/shm takes the disk's fsync out of the figures")
    print(json.dumps(main(parser.parse_args())))
