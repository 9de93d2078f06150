"""notifications and notification_preferences (LIVE-4)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, JsonDict, PrefixedId, Timestamp, UpdatedAt


class Notification(Base):
    """An in-app notification; `event_id` makes creation exactly-once per event and user."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
        Index("ix_notifications_user_id_is_read_created_at", "user_id", "is_read", "created_at"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
    )

    id: Mapped[PrefixedId]
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[JsonDict]
    event_id: Mapped[str | None] = mapped_column(String(64))
    is_read: Mapped[bool] = mapped_column(Boolean, server_default=false())
    read_at: Mapped[Timestamp | None]
    delivered_at: Mapped[Timestamp | None]
    """When the notifier finished delivering it (live event, e-mail, push); NULL until then."""
    created_at: Mapped[CreatedAt]


class NotificationPreference(Base):
    """Per user and notification type: which channels are on."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    in_app: Mapped[bool] = mapped_column(Boolean, server_default=true())
    email: Mapped[bool] = mapped_column(Boolean, server_default=false())
    push: Mapped[bool] = mapped_column(Boolean, server_default=false())
    updated_at: Mapped[UpdatedAt]
