"""Schemas of /analytics and /admin/analytics. Money is a decimal string of rupees; rates
are fractions (0.75 = 75%) or null when there is nothing to divide by."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from core.analytics.figures import Period


class AnalyticsQuery(BaseModel):
    """Real figures by default; `simulated=true` gives the playground's instead (never both)."""

    simulated: bool = False


class RangeQuery(AnalyticsQuery):
    """A range of trading days (inclusive); both optional."""

    start: date | None = None
    end: date | None = None


class PeriodQuery(RangeQuery):
    """Days grouped by IST day, ISO week (from Monday) or calendar month; the default range
    is the last 30 days, 12 weeks or 12 months up to today."""

    period: Period = Period.DAILY


class TotalsOut(BaseModel):
    """Order and round-trip figures."""

    realized_pnl: Decimal
    orders_total: int
    orders_filled: int
    orders_rejected: int
    success_rate: Decimal | None = None
    trades: int
    wins: int
    losses: int
    win_rate: Decimal | None = None


class SummaryOut(TotalsOut):
    """All of the caller's days."""

    simulated: bool
    trading_days: int
    first_day: date | None = None
    last_day: date | None = None


class BucketOut(TotalsOut):
    """One period."""

    start: date
    end: date


class PerformanceOut(BaseModel):
    """Every period of the range, in order (empty ones with zeros)."""

    simulated: bool
    period: Period
    start: date
    end: date
    buckets: list[BucketOut]


class StrategyFiguresOut(TotalsOut):
    """One of the caller's strategies."""

    strategy_id: str
    name: str
    symbol: str
    last_day: date | None = None


class StrategyListOut(BaseModel):
    """The caller's strategies with orders, best P&L first."""

    simulated: bool
    items: list[StrategyFiguresOut]


class PlatformOut(TotalsOut):
    """The platform overall and today."""

    simulated: bool
    day: date
    users_total: int
    users_active: int
    strategies_total: int
    strategies_running: int
    traders_today: int
    orders_today: int
    realized_pnl_today: Decimal


class UserBucketOut(BaseModel):
    """User growth in one period."""

    start: date
    end: date
    new_users: int
    users_total: int
    active_users: int
    churned_users: int
    churn_rate: Decimal | None = None


class UserGrowthOut(BaseModel):
    """User growth per period."""

    simulated: bool
    period: Period
    start: date
    end: date
    buckets: list[UserBucketOut]


class OrderBucketOut(BaseModel):
    """Orders in one period."""

    start: date
    end: date
    orders_total: int
    orders_filled: int
    orders_rejected: int
    success_rate: Decimal | None = None
    turnover: Decimal


class BrokerShareOut(BaseModel):
    """One broker type's orders over the range."""

    broker: str
    orders_total: int
    orders_filled: int
    orders_rejected: int
    success_rate: Decimal | None = None
    share: Decimal | None = None
    turnover: Decimal


class OrderVolumeOut(BaseModel):
    """Orders per period and the broker mix."""

    simulated: bool
    period: Period
    start: date
    end: date
    orders_total: int
    orders_filled: int
    success_rate: Decimal | None = None
    buckets: list[OrderBucketOut]
    brokers: list[BrokerShareOut]
