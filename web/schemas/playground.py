"""Request and response shapes of /playground."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from pydantic import BaseModel, Field

from web.schemas.strategies import StopLoss


class PlaygroundCreate(BaseModel):
    """A simulated strategy: trades on the paper broker only, whatever is sent."""

    name: str = Field(min_length=1, max_length=100)
    symbol: str = Field(min_length=3, max_length=80, examples=["NSE:RELIANCE"])
    buy_time: time
    sell_time: time
    stop_loss: StopLoss
    quantity: int
    target_price: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    trailing_sl_pct: Decimal | None = Field(default=None, max_digits=6, decimal_places=3)


class ChargesOut(BaseModel):
    """Estimated charges of the round trip, rupees."""

    brokerage: Decimal
    stt: Decimal
    exchange: Decimal
    sebi: Decimal
    gst: Decimal
    stamp: Decimal
    total: Decimal


class TradeOut(BaseModel):
    """One trading day of a simulated strategy."""

    strategy_id: str
    trading_day: str
    symbol: str
    quantity: int
    outcome: str = Field(description="no_entry, open, profit, loss or flat")
    entry_price: Decimal | None
    entry_at: str | None
    exit_price: Decimal | None
    exit_at: str | None
    exit_reason: str | None = Field(
        description="sell_time, stop_loss, trailing_stop, target or square_off")
    gross_pnl: Decimal
    charges: ChargesOut | None
    net_pnl: Decimal
    max_drawdown: Decimal | None


class PlaygroundResults(BaseModel):
    """Every day the simulated strategy traded, oldest first, and the totals."""

    strategy_id: str
    days: list[TradeOut]
    gross_pnl: Decimal
    charges: Decimal
    net_pnl: Decimal


class ReplayCreate(BaseModel):
    """A trading day to replay for some of the caller's simulated strategies."""

    strategy_ids: list[str] = Field(min_length=1, max_length=2000)
    trading_day: date
    seed: int = Field(default=1, ge=0, le=2**31 - 1,
                      description="the synthetic day's seed (same seed, same day)")
    recording: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,200}$",
                                  description="a day the feed recorded, instead of a "
                                              "synthetic one")


class ReplayOut(BaseModel):
    """A replay run and, once DONE, its results per strategy."""

    id: str
    status: str = Field(description="PENDING, RUNNING, DONE or FAILED")
    trading_day: date
    seed: int
    recording: str | None
    strategy_ids: list[str]
    ticks: int | None
    error: str | None
    results: list[TradeOut] | None
