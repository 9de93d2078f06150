"""Data access for `audit_logs` (ADM-5): written in the same transaction as the action."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import AuditLog
from core.ids import new_id
from core.trace import current_trace_id


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted, and from where."""

    user_id: str | None
    role: str | None
    ip: str | None = None
    user_agent: str | None = None


async def record(session: AsyncSession, actor: Actor, action: str, *,
                 target_type: str | None = None, target_id: str | None = None,
                 details: dict[str, Any] | None = None) -> AuditLog:
    """Add one audit row (the caller commits with the action it describes)."""
    row = AuditLog(id=new_id("aud"), actor_id=actor.user_id, actor_role=actor.role,
                   action=action, target_type=target_type, target_id=target_id,
                   details=details or {}, ip=actor.ip,
                   user_agent=actor.user_agent[:256] if actor.user_agent else None,
                   trace_id=current_trace_id())
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters of the audit log; every one optional."""

    actor_id: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def page(session: AsyncSession, flt: AuditFilter, *, limit: int,
               before_id: str | None) -> Sequence[AuditLog]:
    """Newest first (ids sort by time), strictly older than `before_id` when given."""
    query = select(AuditLog)
    for column, value in ((AuditLog.actor_id, flt.actor_id), (AuditLog.action, flt.action),
                          (AuditLog.target_type, flt.target_type),
                          (AuditLog.target_id, flt.target_id)):
        if value is not None:
            query = query.where(column == value)
    if flt.since is not None:
        query = query.where(AuditLog.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(AuditLog.created_at < flt.until)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    return (await session.execute(query.order_by(AuditLog.id.desc()).limit(limit))
            ).scalars().all()
