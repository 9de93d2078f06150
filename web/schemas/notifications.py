"""Schemas of /notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.notification_types import NotificationType


class NotificationOut(BaseModel):
    """One in-app notification."""

    id: str
    type: str
    title: str
    body: str
    data: dict[str, Any]
    event_id: str | None = None
    is_read: bool
    read_at: datetime | None = None
    created_at: datetime


class NotificationPage(BaseModel):
    """One page, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[NotificationOut]
    next_cursor: str | None = None
    unread_count: int


class NotificationQuery(BaseModel):
    """Paging and the unread filter."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=40)
    unread: bool = False


class UnreadCount(BaseModel):
    """How many notifications are unread."""

    unread_count: int


class ReadAllOut(BaseModel):
    """How many notifications were marked read."""

    updated: int
    unread_count: int


class PreferenceItem(BaseModel):
    """The channels of one notification type."""

    type: NotificationType
    in_app: bool = True
    email: bool = False
    push: bool = False
    locked_in_app: bool = Field(default=False, description=(
        "True for types that are always stored in-app (a position may be at risk)."))


class PreferenceIn(BaseModel):
    """The channels to set for one type."""

    type: NotificationType
    in_app: bool = True
    email: bool = False
    push: bool = False


class PreferencesIn(BaseModel):
    """Types to change; types not listed keep their setting."""

    items: list[PreferenceIn] = Field(min_length=1, max_length=len(NotificationType))


class PreferencesOut(BaseModel):
    """Every notification type with its channels."""

    items: list[PreferenceItem]
