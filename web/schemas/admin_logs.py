"""Schemas of /admin/logs/orders, /admin/logs/errors and /admin/audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from core.db.enums import OrderAction

ID_BODY = r"[0-9A-HJKMNP-TV-Z]{26}"
TRACE = r"^[A-Za-z0-9_\-]{1,64}$"


class _Window(BaseModel):
    limit: int = Field(default=50, ge=1, le=500)
    since: AwareDatetime | None = Field(default=None, description="from this instant (incl.)")
    until: AwareDatetime | None = Field(default=None, description="before this instant")


class OrderLogQuery(_Window):
    """Filters of the order log."""

    cursor: int | None = Field(default=None, ge=1)
    user_id: str | None = Field(default=None, pattern=rf"^usr_{ID_BODY}$")
    strategy_id: str | None = Field(default=None, pattern=rf"^str_{ID_BODY}$")
    order_id: str | None = Field(default=None, pattern=rf"^ord_{ID_BODY}$")
    action: OrderAction | None = None
    status: str | None = Field(default=None, max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    trace_id: str | None = Field(default=None, pattern=TRACE)


class OrderLogOut(BaseModel):
    """One broker interaction of an order."""

    id: int
    order_id: str
    strategy_id: str
    user_id: str
    attempt: int
    action: str
    status: str
    outcome: str | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float | None = None
    trace_id: str | None = None
    created_at: datetime


class OrderLogPage(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[OrderLogOut]
    next_cursor: int | None = None


class ErrorLogQuery(_Window):
    """Filters of the error log."""

    cursor: int | None = Field(default=None, ge=1)
    level: Literal["ERROR", "CRITICAL"] | None = None
    service: str | None = Field(default=None, min_length=1, max_length=32)
    user_id: str | None = Field(default=None, max_length=32)
    strategy_id: str | None = Field(default=None, max_length=32)
    trace_id: str | None = Field(default=None, pattern=TRACE)


class ErrorLogOut(BaseModel):
    """One stored ERROR or CRITICAL record."""

    id: int
    level: str
    service: str
    logger: str
    message: str
    exception: str | None = None
    trace_id: str | None = None
    user_id: str | None = None
    strategy_id: str | None = None
    context: dict[str, Any]
    created_at: datetime


class ErrorLogPage(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[ErrorLogOut]
    next_cursor: int | None = None


class AuditQuery(_Window):
    """Filters of the audit log."""

    cursor: str | None = Field(default=None, pattern=rf"^aud_{ID_BODY}$")
    actor_id: str | None = Field(default=None, pattern=rf"^usr_{ID_BODY}$")
    action: str | None = Field(default=None, max_length=64, examples=["admin.dlq.retry"])
    target_type: str | None = Field(default=None, max_length=32)
    target_id: str | None = Field(default=None, max_length=64)


class AuditOut(BaseModel):
    """One audited action: who, what, to what, from where, when."""

    id: str
    actor_id: str | None = None
    actor_role: str | None = None
    action: str
    target_type: str | None = None
    target_id: str | None = None
    details: dict[str, Any]
    ip: str | None = None
    user_agent: str | None = None
    trace_id: str | None = None
    created_at: datetime


class AuditPage(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[AuditOut]
    next_cursor: str | None = None
