"""Schemas of /orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from core.db.enums import OrderAction, OrderStatus


class OrderOut(BaseModel):
    """One order intent and what became of it."""

    id: str
    strategy_id: str
    trading_day: date
    action: OrderAction
    side: str
    symbol: str
    quantity: int
    broker: str
    is_simulated: bool
    client_tag: str
    broker_order_id: str | None = None
    status: OrderStatus
    status_reason: str | None = None
    average_price: Decimal | None = None
    filled_quantity: int
    attempts: int
    created_at: datetime
    sent_at: datetime | None = None
    completed_at: datetime | None = None


class OrderAttemptOut(BaseModel):
    """One interaction with the broker (RUN-6)."""

    attempt: int
    outcome: str | None = None
    status: str
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float | None = None
    created_at: datetime


class OrderDetail(OrderOut):
    """An order with every attempt."""

    attempts_log: list[OrderAttemptOut]


class OrderPage(BaseModel):
    """One page, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[OrderOut]
    next_cursor: str | None = None


class OrderQuery(BaseModel):
    """Paging and filters of the list."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=40)
    strategy_id: str | None = Field(default=None, max_length=32)
    status: OrderStatus | None = None
    trading_day: date | None = None
