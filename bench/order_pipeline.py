"""The order benchmark's pipeline processes (one trigger, K executors) and watching them:
heartbeats, orders settling, the executor consumer's leftovers, PostgreSQL connections."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.pipelineproc import pipeline_env, start_roles
from bench.progress import progress
from core import subjects
from core.clock import IST
from core.db.enums import OrderAction
from core.db.models import Order
from core.embedded.stack import Endpoints

DRAIN_TIMEOUT_S: Final = 60.0
PIPELINE_SETTINGS: Final = {"ALGO_ENV": "dev", "ALGO_PAPER_ALWAYS_OPEN": "1",
                            "ALGO_LOG_LEVEL": "WARNING"}


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
