"""Data access for `notifications`: one row per (event, user), so creation is idempotent."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Notification
from core.ids import new_id


async def add_for_event(session: AsyncSession, *, event_id: str, user_id: str, type: str,
                        title: str, body: str, data: dict[str, Any] | None = None) -> bool:
    """Add the notification of one event for one user; False if it already exists."""
    statement = insert(Notification).values(
        id=new_id("ntf"), user_id=user_id, type=type, title=title[:200], body=body,
        data=data or {}, event_id=event_id).on_conflict_do_nothing(
        constraint="uq_notifications_event_user")
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))
