"""The playground role: runs the replays users ask for (`playground_runs`), one at a time.

A run names simulated strategies, a trading day and its ticks — a seed for a synthetic
day of the strategies' instruments, or a day the feed recorded (a file name under
`{data_dir}/recordings/`). The replay engine plays it on its own fake clock, bus and
scratch Redis db; the orders land in `orders` (simulated), the results in the run's row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import msgspec
from sqlalchemy import select

from core.aio import cancel_and_wait
from core.db.models import Strategy
from core.playground.daygen import DaySpec, Second, group_by_instant, synthetic_day
from core.repos import playground_runs
from pipeline.context import ServiceContext
from pipeline.feed.replay import read_ticks
from pipeline.playground.engine import ReplayEngine
from pipeline.playground.wiring import scratch_redis
from pipeline.service import Service

POLL_S: Final = 1.0
RECORDINGS: Final = "recordings"


@dataclass(frozen=True, slots=True)
class _Job:
    run_id: str
    day: date
    seed: int
    recording: str | None
    strategy_ids: list[str]
    instruments: list[tuple[str, str]]


class PlaygroundService(Service):
    """Claims PENDING runs and replays them."""

    role = "playground"
    description = "replays of trading days for simulated strategies"

    def __init__(self, ctx: ServiceContext, *, poll_s: float = POLL_S) -> None:
        super().__init__(ctx)
        if ctx.settings.redis_url is None:
            raise RuntimeError("the playground role needs ALGO_REDIS_URL")
        self._scratch = scratch_redis(ctx.settings, ctx.settings.redis_url)
        self.engine = ReplayEngine(ctx.settings, ctx.sessions, self._scratch, log=self.log)
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def counters(self) -> dict[str, Any]:
        """Runs finished by this instance."""
        return {"runs": self.runs}

    async def on_start(self) -> None:
        """Begin polling for runs."""
        self._task = asyncio.create_task(self._forever(), name="playground-runs")

    async def on_stop(self) -> None:
        """Stop polling (a run cut short stays RUNNING; its orders are simulated only)."""
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        await self._scratch.aclose()

    async def _forever(self) -> None:
        while True:
            try:
                ran = await self.run_once()
            except Exception:
                self.log.exception("playground run failed to start")
                ran = False
            if not ran:
                await self.ctx.clock.sleep(self._poll_s)

    async def run_once(self) -> bool:
        """Claim and play one PENDING run; False when there was none."""
        job = await self._claim()
        if job is None:
            return False
        try:
            report = await self.engine.run(job.day, job.strategy_ids, self._ticks(job))
        except Exception as exc:  # noqa: BLE001 — stored on the run for its user
            self.log.warning("replay %s failed: %s", job.run_id, exc)
            await self._finish(job.run_id, error=str(exc))
        else:
            await self._finish(job.run_id, results=msgspec.to_builtins(report.results),
                               ticks=report.ticks)
        self.runs += 1
        return True

    async def _claim(self) -> _Job | None:
        async with self.ctx.sessions() as session, session.begin():
            run = await playground_runs.claim_next(session, self.ctx.clock.now())
            if run is None:
                return None
            rows = (await session.execute(select(Strategy.exchange, Strategy.symbol).where(
                Strategy.id.in_(run.strategy_ids)))).all()
            return _Job(run.id, run.trading_day, run.seed, run.recording,
                        list(run.strategy_ids), sorted({(r[0], r[1]) for r in rows}))

    def _ticks(self, job: _Job) -> Iterable[Second]:
        if job.recording is not None:
            folder = Path(self.ctx.settings.data_dir) / RECORDINGS
            return group_by_instant(read_ticks(folder / Path(job.recording).name))
        return synthetic_day(DaySpec(day=job.day, instruments=job.instruments, seed=job.seed))

    async def _finish(self, run_id: str, *, results: Any = None, ticks: int | None = None,
                      error: str | None = None) -> None:
        async with self.ctx.sessions() as session, session.begin():
            await playground_runs.finish(session, run_id, self.ctx.clock.now(),
                                         results=results, ticks=ticks, error=error)
