"""Data access for `notifications`: one row per (event, user), so creation is idempotent.

Who writes which row (the same key everywhere, so whoever comes second changes nothing):
the executor writes `order_failed` and `strategy_error` in the transaction of the order's
outcome, the trigger writes `trigger_missed`, the notifier writes every other type and
delivers them all (docs/live.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Notification
from core.ids import new_id


@dataclass(frozen=True, slots=True)
class NotificationView:
    """A notification as read from the database (no ORM object leaves this module)."""

    id: str
    user_id: str
    type: str
    title: str
    body: str
    data: dict[str, Any]
    event_id: str | None
    is_read: bool
    read_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


_COLUMNS = (Notification.id, Notification.user_id, Notification.type, Notification.title,
            Notification.body, Notification.data, Notification.event_id, Notification.is_read,
            Notification.read_at, Notification.delivered_at, Notification.created_at)


async def add_for_event(session: AsyncSession, *, event_id: str, user_id: str, type: str,
                        title: str, body: str, data: dict[str, Any] | None = None) -> bool:
    """Add the notification of one event for one user; False if it already exists."""
    statement = insert(Notification).values(
        id=new_id("ntf"), user_id=user_id, type=type, title=title[:200], body=body,
        data=data or {}, event_id=event_id).on_conflict_do_nothing(
        constraint="uq_notifications_event_user")
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def get_for_event(session: AsyncSession, event_id: str,
                        user_id: str) -> NotificationView | None:
    """The notification of one event for one user, whoever wrote it."""
    row = (await session.execute(select(*_COLUMNS).where(
        Notification.event_id == event_id, Notification.user_id == user_id))).first()
    return NotificationView(*row) if row is not None else None


async def mark_delivered(session: AsyncSession, notification_id: str, now: datetime) -> None:
    """Record that the notifier has delivered it (it is not delivered again)."""
    await session.execute(update(Notification).where(Notification.id == notification_id)
                          .values(delivered_at=now))


async def list_for_user(session: AsyncSession, user_id: str, *, unread_only: bool, limit: int,
                        before_id: str | None) -> list[NotificationView]:
    """The user's notifications, newest first, strictly older than `before_id` if given."""
    query = select(*_COLUMNS).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.is_read.is_(False))
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    rows = await session.execute(query.order_by(Notification.id.desc()).limit(limit))
    return [NotificationView(*row) for row in rows]


async def unread_count(session: AsyncSession, user_id: str) -> int:
    """How many of the user's notifications are unread."""
    result = await session.execute(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.is_read.is_(False)))
    return int(result.scalar_one())


async def mark_read(session: AsyncSession, user_id: str, notification_id: str,
                    now: datetime) -> NotificationView | None:
    """Mark one of the user's notifications read (idempotent); None if it is not theirs."""
    await session.execute(update(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id,
        Notification.is_read.is_(False)).values(is_read=True, read_at=now))
    row = (await session.execute(select(*_COLUMNS).where(
        Notification.id == notification_id, Notification.user_id == user_id))).first()
    return NotificationView(*row) if row is not None else None


async def mark_all_read(session: AsyncSession, user_id: str, now: datetime) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    result = await session.execute(update(Notification).where(
        Notification.user_id == user_id, Notification.is_read.is_(False))
        .values(is_read=True, read_at=now))
    return int(getattr(result, "rowcount", 0))
