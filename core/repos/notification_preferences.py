"""Data access for `notification_preferences`: per user and type, which channels are on."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import NotificationPreference
from core.notification_types import DEFAULT, Channels


async def of_user(session: AsyncSession, user_id: str) -> dict[str, Channels]:
    """The types the user has set (unset types use `DEFAULT`)."""
    rows = await session.execute(
        select(NotificationPreference.type, NotificationPreference.in_app,
               NotificationPreference.email, NotificationPreference.push)
        .where(NotificationPreference.user_id == user_id))
    return {row.type: Channels(row.in_app, row.email, row.push) for row in rows}


async def channels(session: AsyncSession, user_id: str, type: str) -> Channels:
    """The channels of one type for one user."""
    return (await of_user_types(session, [user_id], type)).get(user_id, DEFAULT)


async def of_user_types(session: AsyncSession, user_ids: list[str],
                        type: str) -> dict[str, Channels]:
    """The channels of one type for several users (those who set it)."""
    rows = await session.execute(
        select(NotificationPreference.user_id, NotificationPreference.in_app,
               NotificationPreference.email, NotificationPreference.push)
        .where(NotificationPreference.user_id.in_(user_ids),
               NotificationPreference.type == type))
    return {row.user_id: Channels(row.in_app, row.email, row.push) for row in rows}


async def put(session: AsyncSession, user_id: str, prefs: Mapping[str, Channels]) -> None:
    """Set the channels of these types (others stay as they are)."""
    if not prefs:
        return
    statement = insert(NotificationPreference).values([
        {"user_id": user_id, "type": type, "in_app": c.in_app, "email": c.email, "push": c.push}
        for type, c in prefs.items()])
    await session.execute(statement.on_conflict_do_update(
        index_elements=["user_id", "type"],
        set_={"in_app": statement.excluded.in_app, "email": statement.excluded.email,
              "push": statement.excluded.push, "updated_at": func.now()}))
