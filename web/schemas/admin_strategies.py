"""Schemas of /admin/strategies."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from core.db.enums import StrategyStatus
from web.schemas.orders import OrderOut
from web.schemas.strategies import StrategyOut

ID_BODY = r"[0-9A-HJKMNP-TV-Z]{26}"


class AdminStrategyQuery(BaseModel):
    """Filters and paging of every user's strategies."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, pattern=rf"^str_{ID_BODY}$")
    user_id: str | None = Field(default=None, pattern=rf"^usr_{ID_BODY}$")
    status: StrategyStatus | None = None
    broker: str | None = Field(
        default=None, pattern=rf"^(paper|zerodha|dhan|fyers|angel_one|brk_{ID_BODY})$",
        description="paper, a broker type, or one connection's id")
    symbol: str | None = Field(default=None, pattern=r"^[A-Z]+:[A-Za-z0-9&_\-.]+$",
                               examples=["NSE:RELIANCE"])
    simulated: bool | None = None


class AdminStrategyOut(StrategyOut):
    """A strategy with its owner and the state an admin needs."""

    user_id: str
    user_email: str
    broker_type: str
    last_action: str | None = None
    status_reason: str | None = None
    consecutive_failures: int = 0


class AdminStrategyPage(BaseModel):
    """One page; pass `next_cursor` as `cursor` for the next."""

    items: list[AdminStrategyOut]
    next_cursor: str | None = None


class AdminStrategyDetail(BaseModel):
    """A strategy and its latest orders (newest first)."""

    strategy: AdminStrategyOut
    orders: list[OrderOut]


class ForceStopRequest(BaseModel):
    """Why the strategy is being stopped (kept in the audit log and the strategy)."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=200)]


class ForceStopOut(BaseModel):
    """The strategy after the stop, and what was done."""

    strategy: AdminStrategyOut
    stopped: bool
    square_off: bool
    """True when an open position is being squared off."""
