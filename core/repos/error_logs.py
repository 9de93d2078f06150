"""Data access for `error_logs` (ADM-4): batched inserts from the error log, admin reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ErrorLog


@dataclass(frozen=True, slots=True)
class ErrorLogView:
    """One stored error record (no ORM object leaves this module)."""

    id: int
    level: str
    service: str
    logger: str
    message: str
    exception: str | None
    trace_id: str | None
    user_id: str | None
    strategy_id: str | None
    context: dict[str, Any]
    created_at: datetime


_COLUMNS = (ErrorLog.id, ErrorLog.level, ErrorLog.service, ErrorLog.logger, ErrorLog.message,
            ErrorLog.exception, ErrorLog.trace_id, ErrorLog.user_id, ErrorLog.strategy_id,
            ErrorLog.context, ErrorLog.created_at)


async def add_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert many records in one statement; their ids, in the order given."""
    if not rows:
        return []
    result = await session.execute(insert(ErrorLog).returning(ErrorLog.id), list(rows))
    return [int(i) for i in result.scalars()]


@dataclass(frozen=True, slots=True)
class ErrorLogFilter:
    """Admin filters of the error log; every one optional."""

    levels: tuple[str, ...] = ()
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    user_id: str | None = None
    strategy_id: str | None = None
    trace_id: str | None = None


async def page(session: AsyncSession, flt: ErrorLogFilter, *, limit: int,
               before_id: int | None) -> list[ErrorLogView]:
    """Newest first, strictly older (by id) than `before_id` when given."""
    query = select(*_COLUMNS)
    if flt.levels:
        query = query.where(ErrorLog.level.in_(flt.levels))
    if flt.service is not None:
        query = query.where(ErrorLog.service == flt.service)
    if flt.since is not None:
        query = query.where(ErrorLog.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(ErrorLog.created_at < flt.until)
    if flt.user_id is not None:
        query = query.where(ErrorLog.user_id == flt.user_id)
    if flt.strategy_id is not None:
        query = query.where(ErrorLog.strategy_id == flt.strategy_id)
    if flt.trace_id is not None:
        query = query.where(ErrorLog.trace_id == flt.trace_id)
    if before_id is not None:
        query = query.where(ErrorLog.id < before_id)
    rows = await session.execute(query.order_by(ErrorLog.id.desc()).limit(limit))
    return [ErrorLogView(*row) for row in rows]
