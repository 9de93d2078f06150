"""Admin reads of `order_logs` (ADM-4): every broker interaction, across users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import OrderLog


@dataclass(frozen=True, slots=True)
class OrderLogFilter:
    """Filters of the order log; every one optional."""

    user_id: str | None = None
    strategy_id: str | None = None
    order_id: str | None = None
    action: str | None = None
    status: str | None = None
    outcome: str | None = None
    trace_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def page(session: AsyncSession, flt: OrderLogFilter, *, limit: int,
               before_id: int | None) -> Sequence[OrderLog]:
    """Newest first, strictly older (by id) than `before_id` when given."""
    query = select(OrderLog)
    for column, value in ((OrderLog.user_id, flt.user_id), (OrderLog.strategy_id, flt.strategy_id),
                          (OrderLog.order_id, flt.order_id), (OrderLog.action, flt.action),
                          (OrderLog.status, flt.status), (OrderLog.outcome, flt.outcome),
                          (OrderLog.trace_id, flt.trace_id)):
        if value is not None:
            query = query.where(column == value)
    if flt.since is not None:
        query = query.where(OrderLog.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(OrderLog.created_at < flt.until)
    if before_id is not None:
        query = query.where(OrderLog.id < before_id)
    return (await session.execute(query.order_by(OrderLog.id.desc()).limit(limit))
            ).scalars().all()
