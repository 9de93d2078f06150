"""API load: a realistic mix of user reads and writes and admin calls at a fixed arrival
rate (open loop: a request is sent at its scheduled time whether or not earlier ones were
answered, and its latency counts from that time, so a stall is charged to every request
it delays). Starts its own servers and the web process (two workers, one per core).

    .venv/bin/python bench/api_load.py [--seconds N] [--rate R] [--warmup W]

The first W seconds (default 5) run the same load uncounted, except for 5xx answers:
pools, the account-view cache and prepared statements fill there, once per restart.
`worst_by_second_ms` shows the slowest request of each second, warm-up included.

Targets: p99 ≤ 50 ms for reads, ≤ 100 ms for writes, zero 5xx (`targets_met`; whether
each route's own p99 is within its kind's target is `every_route_within_its_target`).
Prints p50/p99 per route, the error rate and the machine's load; one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import psutil

from bench.api_mix import Route, populate, routes
from bench.httpload import _exchange
from bench.webproc import start_web, stop_web
from core import aio
from core.db import migrate
from core.embedded.process import pick_port
from core.embedded.stack import EmbeddedStack
from core.settings import Settings

CONNECTIONS: Final = 128
"""Keep-alive connections the requests share (a request waits for a free one; the wait
counts in its latency)."""
WEB_WORKERS: Final = 2
READ_P99_MS: Final = 50.0
WRITE_P99_MS: Final = 100.0


@dataclass
class Tally:
    """Latencies (seconds from the scheduled send) and statuses of one route."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0
    """Connections lost mid-request."""

    def pct_ms(self, q: float) -> float | None:
        """The q-quantile in milliseconds (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


@dataclass
class Run:
    """What `load` measured."""

    tallies: dict[str, Tally]
    elapsed_s: float
    worst_by_second_ms: list[float]
    """The slowest request scheduled in each second (warm-up included), to show stalls."""
    warmup_requests: int


async def load(host: str, port: int, mix: list[Route], rate: float,
               seconds: float, warmup_s: float) -> Run:
    """Send `rate` requests a second for `warmup_s + seconds`, each at its scheduled time;
    those of the warm-up are sent alike but not counted (pools, caches and prepared
    statements fill during it, as they do once after any restart)."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    warm = mix[0].build(0)
    for _ in range(CONNECTIONS):
        reader, writer = await asyncio.open_connection(host, port)
        await _exchange(reader, writer, warm)
        pool.put_nowait((reader, writer))
    tallies = {r.name: Tally() for r in mix}
    warm_tallies = {r.name: Tally() for r in mix}
    rng = random.Random(5)
    weights = [r.weight for r in mix]
    worst = [0.0] * (int(seconds + warmup_s) + 1)

    async def one(route: Route, request: bytes, scheduled: float) -> None:
        offset = scheduled - started
        tally = (tallies if offset >= warmup_s else warm_tallies)[route.name]
        reader, writer = await pool.get()
        try:
            status = await _exchange(reader, writer, request)
        except (asyncio.IncompleteReadError, ConnectionError):
            tally.failures += 1
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
            return
        finally:
            pool.put_nowait((reader, writer))
        latency = time.perf_counter() - scheduled
        tally.latencies.append(latency)
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        second = int(offset)
        worst[second] = max(worst[second], latency * 1000)

    total = int(rate * (seconds + warmup_s))
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        route = rng.choices(mix, weights)[0]
        tasks.append(asyncio.create_task(one(route, route.build(i), scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started - warmup_s
    while not pool.empty():
        pool.get_nowait()[1].close()
    for name, warm_tally in warm_tallies.items():  # a 5xx counts, warm-up or not
        tallies[name].failures += warm_tally.failures
        tallies[name].statuses.update({s: tallies[name].statuses.get(s, 0) + c
                                       for s, c in warm_tally.statuses.items() if s >= 500})
    return Run(tallies, elapsed, [round(w, 1) for w in worst],
               sum(len(t.latencies) for t in warm_tallies.values()))


def report(mix: list[Route], tallies: dict[str, Tally], elapsed: float, rate: float,
           load_before: tuple[float, float, float], cpu: dict[str, float]) -> dict[str, object]:
    """Per route p50/p99 and statuses, totals, verdicts against the targets."""
    per_route: dict[str, object] = {}
    sent = errors = fivexx = 0
    kinds: dict[str, Tally] = {"read": Tally(), "write": Tally()}
    verdict = True
    for route in mix:
        t = tallies[route.name]
        n = len(t.latencies) + t.failures
        bad = t.failures + sum(c for s, c in t.statuses.items() if s >= 400)
        five = t.failures + sum(c for s, c in t.statuses.items() if s >= 500)
        sent, errors, fivexx = sent + n, errors + bad, fivexx + five
        kinds[route.kind].latencies += t.latencies
        target = READ_P99_MS if route.kind == "read" else WRITE_P99_MS
        p99 = t.pct_ms(0.99)
        ok = p99 is not None and p99 <= target and five == 0
        verdict = verdict and ok
        per_route[route.name] = {"kind": route.kind, "count": n, "p50_ms": t.pct_ms(0.5),
                                 "p99_ms": p99, "max_ms": t.pct_ms(1.0),
                                 "statuses": {str(s): c for s, c in sorted(t.statuses.items())},
                                 "target_p99_ms": target, "ok": ok}
    return {
        "bench": "api_load", "rate_per_s": rate, "seconds": round(elapsed, 1),
        "requests": sent, "achieved_per_s": round(sent / elapsed, 1) if elapsed else 0.0,
        "error_rate": round(errors / sent, 5) if sent else None, "http_5xx": fivexx,
        "read_p50_ms": kinds["read"].pct_ms(0.5), "read_p99_ms": kinds["read"].pct_ms(0.99),
        "write_p50_ms": kinds["write"].pct_ms(0.5),
        "write_p99_ms": kinds["write"].pct_ms(0.99),
        # The targets are by kind: reads' p99 and writes' p99, and no 5xx. Each
        # route's own p99 is shown too; a rare route's rests on its few slowest requests.
        "targets_met": (fivexx == 0 and _within(kinds["read"].pct_ms(0.99), READ_P99_MS)
                        and _within(kinds["write"].pct_ms(0.99), WRITE_P99_MS)),
        "every_route_within_its_target": verdict and fivexx == 0,
        "routes_over_target": [name for name, r in per_route.items()
                               if isinstance(r, dict) and not r["ok"]],
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg(), **cpu},
        "routes": per_route,
    }


def _within(p99_ms: float | None, target_ms: float) -> bool:
    return p99_ms is not None and p99_ms <= target_ms


def _cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _groups(web_pid: int) -> dict[str, list[psutil.Process]]:
    """The web process and its workers; the embedded servers; this load generator."""
    me, web = psutil.Process(), psutil.Process(web_pid)
    web_tree = [web, *web.children(recursive=True)]
    mine = {p.pid for p in web_tree}
    servers = [p for p in me.children(recursive=True) if p.pid not in mine]
    return {"web": web_tree, "servers": servers, "loadgen": [me]}


def main(seconds: float, rate: float, warmup_s: float) -> dict[str, object]:
    """Start servers, seed, start the web process, run the mix, stop."""
    with tempfile.TemporaryDirectory(prefix="algo-bench-") as tmp:
        settings = Settings(env="dev", data_dir=Path(tmp), nats_port=0, nats_monitor_port=0,
                            redis_port=0)
        stack = EmbeddedStack(settings, persistent_redis=False)
        endpoints = stack.start()
        web: subprocess.Popen[bytes] | None = None
        try:
            migrate.upgrade(endpoints.database_url)
            seed = aio.run(populate(endpoints, settings))
            port = pick_port(0)
            extra = {"ALGO_NATS_MONITOR_URL": endpoints.nats_monitor_url} \
                if endpoints.nats_monitor_url else {}
            web = start_web(endpoints, tmp, port, ALGO_DB_POOL_SIZE="20",
                            ALGO_WEB_WORKERS=str(WEB_WORKERS), ALGO_LOG_LEVEL="WARNING",
                            **extra)
            mix = routes(seed, f"127.0.0.1:{port}")
            gc.collect()
            gc.freeze()
            load_before = os.getloadavg()
            groups = _groups(web.pid)
            cpu0 = {name: _cpu_s(procs) for name, procs in groups.items()}
            began = time.perf_counter()
            psutil.cpu_percent(interval=None)
            run = aio.run(load("127.0.0.1", port, mix, rate, seconds, warmup_s))
            wall = time.perf_counter() - began
            # Percent of one core; the machine's is of all cores (others' work included).
            cpu: dict[str, float] = {
                f"{name}_cpu_pct": round((_cpu_s(procs) - cpu0[name]) / wall * 100, 1)
                for name, procs in groups.items()}
            cpu["machine_cpu_pct"] = psutil.cpu_percent(interval=None)
            result = report(mix, run.tallies, run.elapsed_s, rate, load_before, cpu)
            result.update(warmup_s=warmup_s, warmup_requests=run.warmup_requests,
                          worst_by_second_ms=run.worst_by_second_ms)
            return result
        finally:
            stop_web(web)
            stack.stop()


def _print_table(result: dict[str, object]) -> None:
    routes_out = result["routes"]
    assert isinstance(routes_out, dict)
    print(f"{'route':42} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for name, r in routes_out.items():
        print(f"{name:42} {r['count']:>6} {r['p50_ms']!s:>8} {r['p99_ms']!s:>8}  "
              f"{r['statuses']}{'' if r['ok'] else '  <- misses target'}")
    print(f"error rate {result['error_rate']}, 5xx {result['http_5xx']}, "
          f"machine {result['machine']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of the same load sent first and not counted")
    args = parser.parse_args()
    outcome = main(args.seconds, args.rate, args.warmup)
    _print_table(outcome)
    print(json.dumps(outcome))
