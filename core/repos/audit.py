"""Data access for `audit_logs` (ADM-5): written in the same transaction as the action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
