"""Data access of `playground_runs`: asked for by the web, claimed and finished by the
playground role; a user sees only their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import PlaygroundRun
from core.ids import new_id


async def add(session: AsyncSession, *, user_id: str, day: date, seed: int,
              strategy_ids: Sequence[str], recording: str | None = None) -> PlaygroundRun:
    """A PENDING run (the caller commits)."""
    run = PlaygroundRun(id=new_id("rpl"), user_id=user_id, trading_day=day, seed=seed,
                        recording=recording, strategy_ids=sorted(set(strategy_ids)),
                        status="PENDING")
    session.add(run)
    await session.flush()
    return run


async def get_owned(session: AsyncSession, user_id: str, run_id: str) -> PlaygroundRun | None:
    """The user's run, None for another's or none."""
    return (await session.execute(select(PlaygroundRun).where(
        PlaygroundRun.id == run_id, PlaygroundRun.user_id == user_id))).scalar_one_or_none()


async def claim_next(session: AsyncSession, now: datetime) -> PlaygroundRun | None:
    """The oldest PENDING run, marked RUNNING (SKIP LOCKED: replicas take different runs)."""
    run = (await session.execute(select(PlaygroundRun).where(
        PlaygroundRun.status == "PENDING").order_by(PlaygroundRun.id).limit(1)
        .with_for_update(skip_locked=True))).scalar_one_or_none()
    if run is not None:
        run.status = "RUNNING"
        run.started_at = now
    return run


async def finish(session: AsyncSession, run_id: str, now: datetime, *,
                 results: list[dict[str, Any]] | None = None, ticks: int | None = None,
                 error: str | None = None) -> None:
    """DONE with its results, or FAILED with the reason."""
    run = await session.get(PlaygroundRun, run_id, with_for_update=True)
    if run is None:
        return
    run.status = "FAILED" if error is not None else "DONE"
    run.results = results
    run.ticks = ticks
    run.error = error
    run.finished_at = now
