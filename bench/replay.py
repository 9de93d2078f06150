"""Replay of a full synthetic trading day: 6 h 15 min of ticks (one per second) for 200
symbols, 2,000 simulated strategies of 100 users, through the real trigger, stop-loss
watcher and executor on a fake clock (pipeline/playground/engine.py). Starts its own
servers. The day is generated and recorded to a JSONL file first (timed apart), then
replayed from that file, as a recorded day would be; the replay is run twice and the two
results compared byte for byte. Target: a full day in at most 60 s.

    .venv/bin/python bench/replay.py [--seconds N] [--symbols N] [--strategies N] [--once]

`--seconds` replays only the first N seconds of the session. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.cpu import CpuMeter, postmaster_pid
from core import aio
from core.bootstrap import seed_reference_data
from core.db import migrate
from core.db.engine import create_engine, session_factory
from core.db.models import Strategy, User
from core.embedded.stack import EmbeddedStack, Endpoints
from core.ids import new_id
from core.playground.daygen import OPEN, DaySpec, group_by_instant, synthetic_day, write_day
from core.repos import instruments
from core.settings import Settings
from pipeline.feed.replay import read_ticks
from pipeline.playground.engine import ReplayEngine, ReplayReport
from pipeline.playground.wiring import scratch_redis

DAY = date(2026, 11, 25)
USERS = 100
SEED = 2026


def progress(message: str) -> None:
    """A line on stderr (stdout is for the JSON)."""
    print(f"[replay] {message}", file=sys.stderr, flush=True)


async def populate(endpoints: Endpoints, symbols: list[str], count: int) -> list[str]:
    """Users, instruments and CREATED simulated strategies; returns the strategy ids."""
    engine = create_engine(endpoints.database_url, pool_size=2)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await instruments.upsert(session, "NSE", [{"symbol": s, "name": s} for s in symbols],
                                 "bench")
        user_ids = [new_id("usr") for _ in range(USERS)]
        await session.execute(insert(User), [
            {"id": u, "email": f"{u.lower()}@bench.local", "password_hash": "x",
             "role": "user", "is_active": True} for u in user_ids])
    rows: list[dict[str, Any]] = []
    for i in range(count):
        # Entries spread over 09:20-10:29, exits over 14:30-15:19; percent stops of
        # 0.5-2.4 %, every third with a trailing stop, every fifth with a target.
        buy = (datetime.combine(DAY, clock_time(9, 20)) + timedelta(minutes=i % 70)).time()
        sell = (datetime.combine(DAY, clock_time(14, 30)) + timedelta(minutes=i % 50)).time()
        rows.append({"id": new_id("str"), "user_id": user_ids[i % USERS], "name": f"s{i}",
                     "exchange": "NSE", "symbol": symbols[i % len(symbols)],
                     "buy_time": buy, "sell_time": sell, "stop_loss_type": "PERCENT",
                     "stop_loss_value": Decimal("0.5") + Decimal(i % 20) / 10,
                     "trailing_sl_pct": Decimal("0.8") if i % 3 == 0 else None,
                     "quantity": 1 + i % 10, "status": "CREATED", "position": "NONE",
                     "rev": 0, "is_simulated": True})
    async with sessions() as session, session.begin():
        await session.execute(insert(Strategy), rows)
    await engine.dispose()
    return [r["id"] for r in rows]


async def replay(settings: Settings, endpoints: Endpoints, ids: list[str],
                 path: Path) -> ReplayReport:
    """One replay of the recorded file."""
    engine = create_engine(endpoints.database_url, pool_size=10)
    redis = scratch_redis(settings, endpoints.redis_url)
    try:
        return await ReplayEngine(settings, session_factory(engine), redis).run(
            DAY, ids, group_by_instant(read_ticks(path)))
    finally:
        await redis.aclose()
        await engine.dispose()


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Start the servers, generate, replay (twice), stop the servers."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="algo-bench-") as tmp:
        settings = Settings(env="dev", data_dir=Path(tmp), nats_url=None, database_url=None,
                            redis_url=None, nats_port=0, nats_monitor_port=0, redis_port=0)
        stack = EmbeddedStack(settings, persistent_redis=False)
        endpoints = stack.start()
        try:
            migrate.upgrade(endpoints.database_url)
            aio.run(seed_reference_data(endpoints.database_url))
            symbols = [f"SYM{i:03d}" for i in range(args.symbols)]
            ids = aio.run(populate(endpoints, symbols, args.strategies))
            end = (datetime.combine(DAY, OPEN) + timedelta(seconds=args.seconds)).time()
            spec = DaySpec(day=DAY, instruments=[("NSE", s) for s in symbols], seed=SEED,
                           end=end)
            path = Path(tmp) / "day.jsonl"
            began = time.perf_counter()
            ticks = write_day(path, synthetic_day(spec))
            generate_s = time.perf_counter() - began
            progress(f"{ticks} ticks generated and recorded in {generate_s:.1f} s "
                     f"({path.stat().st_size / 1e6:.0f} MB)")
            meter = CpuMeter({}, [os.getpid(), *postmaster_pid(stack)])
            load_before = os.getloadavg()
            meter.start()
            report = aio.run(replay(settings, endpoints, ids, path))
            cpu = meter.stop("replay", max(1, report.orders))
            progress(f"replayed in {report.wall_s:.1f} s")
            result: dict[str, Any] = {
                "bench": "replay", "day": DAY.isoformat(), "symbols": args.symbols,
                "strategies": args.strategies, "session_s": args.seconds, "ticks": report.ticks,
                "instants": report.instants, "generate_and_record_s": round(generate_s, 2),
                "wall_s": report.wall_s, "tick_path_s": report.tick_s,
                "ticks_per_s": round(report.ticks / report.wall_s) if report.wall_s else None,
                "commands": report.commands, "orders": report.orders,
                "outcomes": dict(sorted(Counter(r.outcome for r in report.results).items())),
                "exit_reasons": dict(sorted(Counter(
                    r.exit_reason or "none" for r in report.results).items())),
                "net_pnl": str(sum(Decimal(r.net_pnl) for r in report.results)),
                "results_sha256": hashlib.sha256(report.encoded()).hexdigest()[:16],
                "loadavg_before": [round(x, 2) for x in load_before], **cpu}
            if not args.once:
                again = aio.run(replay(settings, endpoints, ids, path))
                result["second_wall_s"] = again.wall_s
                result["identical_twice"] = again.encoded() == report.encoded()
            result["run_s"] = round(time.monotonic() - started, 1)
            return result
        finally:
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6 * 3600 + 15 * 60)
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--strategies", type=int, default=2000)
    parser.add_argument("--once", action="store_true", help="replay once (no comparison)")
    logging.basicConfig(level=logging.WARNING,
                        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    print(json.dumps(main(parser.parse_args())))
