"""Schemas of /admin/dlq."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class DlqQuery(BaseModel):
    """Paging of the dead-letter queue (oldest first)."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: int | None = Field(default=None, ge=1, description="a DLQ stream sequence")


class DlqRetryOut(BaseModel):
    """The one retry of a dead letter."""

    subject: str
    msg_id: str
    command_seq: int | None = None
    """The COMMANDS stream sequence of the republished command."""
    duplicate: bool
    actor_id: str | None = None
    created_at: datetime


class DeadLetterOut(BaseModel):
    """A parked command: why it was parked, its body, and its retry if any."""

    seq: int
    subject: str
    original_subject: str | None = None
    reason: str | None = None
    deliveries: int | None = None
    msg_id: str | None = None
    parked_at: datetime | None = None
    command: dict[str, Any] | None = None
    raw: str | None = None
    retry: DlqRetryOut | None = None


class DeadLetterPage(BaseModel):
    """One page; pass `next_cursor` as `cursor` for the next."""

    items: list[DeadLetterOut]
    next_cursor: int | None = None
