"""Data access for `strategies` (the parts accounts need; the strategies feature adds more)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import StrategyStatus
from core.db.models import Strategy


async def count_for_user(session: AsyncSession, user_id: str) -> int:
    """How many (not deleted) strategies a user has."""
    result = await session.execute(
        select(func.count()).select_from(Strategy)
        .where(Strategy.user_id == user_id, Strategy.deleted_at.is_(None)))
    return int(result.scalar_one())


async def stop_all_for_user(session: AsyncSession, user_id: str, *, now: datetime,
                            reason: str) -> list[str]:
    """Mark every running strategy of a user STOPPED; returns their ids."""
    result = await session.execute(
        update(Strategy)
        .where(Strategy.user_id == user_id, Strategy.status == StrategyStatus.RUNNING.value)
        .values(status=StrategyStatus.STOPPED.value, stopped_at=now, status_reason=reason,
                rev=Strategy.rev + 1)
        .returning(Strategy.id))
    return list(result.scalars())
