"""Schemas of /strategies."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from core.db.enums import Position, StopLossType, StrategyStatus


class StopLoss(BaseModel):
    """`PRICE`: an absolute price in rupees. `PERCENT`: percent below the entry fill."""

    type: StopLossType
    value: Decimal = Field(max_digits=14, decimal_places=4)


class StrategyCreate(BaseModel):
    """A new strategy: BUY at buy_time, SELL at sell_time (IST), with a mandatory stop-loss."""

    name: str = Field(min_length=1, max_length=100)
    symbol: str = Field(min_length=3, max_length=80, examples=["NSE:RELIANCE"])
    buy_time: time
    sell_time: time
    stop_loss: StopLoss
    quantity: int
    broker_credential_id: str = Field(min_length=1, max_length=32,
                                      description="a broker connection id, or `paper`")
    target_price: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    trailing_sl_pct: Decimal | None = Field(default=None, max_digits=6, decimal_places=3)
    is_simulated: bool = False


class StrategyUpdate(BaseModel):
    """Fields to change; while running only stop-loss, target, trailing stop, times, name."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    symbol: str | None = Field(default=None, min_length=3, max_length=80)
    buy_time: time | None = None
    sell_time: time | None = None
    stop_loss: StopLoss | None = None
    quantity: int | None = None
    broker_credential_id: str | None = Field(default=None, min_length=1, max_length=32)
    target_price: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    trailing_sl_pct: Decimal | None = Field(default=None, max_digits=6, decimal_places=3)


class StrategyOut(BaseModel):
    """A strategy."""

    id: str
    name: str
    symbol: str
    buy_time: time
    sell_time: time
    stop_loss: StopLoss
    quantity: int
    broker_credential_id: str
    target_price: Decimal | None = None
    trailing_sl_pct: Decimal | None = None
    is_simulated: bool
    status: StrategyStatus
    position: Position
    rev: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    stopped_at: datetime | None = None


class StrategyPage(BaseModel):
    """One page; pass `next_cursor` as `cursor` for the next."""

    items: list[StrategyOut]
    next_cursor: str | None = None


class StrategyQuery(BaseModel):
    """Paging, filters and order of the list."""

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=400)
    status: StrategyStatus | None = None
    symbol: str | None = Field(default=None, min_length=3, max_length=80)
    sort: Literal["created", "-created", "updated", "-updated", "name", "-name"] = "-created"


class StrategyStatusOut(BaseModel):
    """Where a strategy is now; `live` when its runtime copy is armed in the pipeline."""

    id: str
    status: StrategyStatus
    position: Position
    last_action: str | None = None
    entry_price: Decimal | None = None
    rev: int
    live: bool
    status_reason: str | None = None


class BulkIds(BaseModel):
    """Strategies to act on in one call."""

    ids: list[str] = Field(min_length=1, max_length=500)


class BulkFailure(BaseModel):
    """A strategy the bulk call left as it was, and why."""

    id: str
    error_code: str
    message: str


class BulkResult(BaseModel):
    """What a bulk call did."""

    started: list[StrategyOut]
    failed: list[BulkFailure]
