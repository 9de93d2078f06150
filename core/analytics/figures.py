"""The shapes analytics returns (msgspec Structs, cached as JSON) and the arithmetic that
turns day rows into them: totals, rates and period buckets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Final, TypeVar

import msgspec

from core.clock import IST
from core.repos.analytics_user import DayRow

RATE: Final = Decimal("0.0001")


class Period(StrEnum):
    """How days are grouped: IST calendar days, ISO weeks (from Monday), calendar months."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


DEFAULT_BUCKETS: Final = {Period.DAILY: 30, Period.WEEKLY: 12, Period.MONTHLY: 12}
"""Buckets shown when no start day is given."""


class Totals(msgspec.Struct, kw_only=True):
    """Order and round-trip figures of a set of days."""

    realized_pnl: Decimal = Decimal("0.00")
    """Gross realised P&L of closed round trips (before charges)."""
    orders_total: int = 0
    orders_filled: int = 0
    orders_rejected: int = 0
    success_rate: Decimal | None = None
    """orders_filled / orders_total; None without orders."""
    trades: int = 0
    """Round trips: a strategy's day with both an entry and an exit fill."""
    wins: int = 0
    losses: int = 0
    win_rate: Decimal | None = None
    """wins / trades; None without trades (a break-even trade is neither)."""


class Summary(Totals, kw_only=True):
    """A user's figures over all days."""

    simulated: bool
    trading_days: int = 0
    first_day: date | None = None
    last_day: date | None = None


class Bucket(Totals, kw_only=True):
    """One period's figures."""

    start: date
    end: date


class Performance(msgspec.Struct, kw_only=True):
    """Figures per period over a range of days, every period present (zeros included)."""

    simulated: bool
    period: Period
    start: date
    end: date
    buckets: list[Bucket]


class StrategyFigures(Totals, kw_only=True):
    """One strategy's figures."""

    strategy_id: str
    name: str
    symbol: str
    last_day: date | None = None


class StrategyList(msgspec.Struct, kw_only=True):
    """Per-strategy figures, best P&L first."""

    simulated: bool
    items: list[StrategyFigures]


TotalsT = TypeVar("TotalsT", bound=Totals)


def rate(part: int, whole: int) -> Decimal | None:
    """part / whole to four places; None when `whole` is 0."""
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE, rounding=ROUND_HALF_EVEN)


def finish(totals: TotalsT) -> TotalsT:
    """Fill in the rates of `totals` from its counts."""
    totals.success_rate = rate(totals.orders_filled, totals.orders_total)
    totals.win_rate = rate(totals.wins, totals.trades)
    return totals


def add(totals: Totals, row: DayRow) -> None:
    """Add one day row's figures to `totals` (rates are left for `finish`)."""
    totals.realized_pnl += row.gross_pnl
    totals.orders_total += row.orders_total
    totals.orders_filled += row.orders_filled
    totals.orders_rejected += row.orders_rejected
    totals.trades += row.trades
    totals.wins += row.wins
    totals.losses += row.losses


def summary(rows: Iterable[DayRow], *, simulated: bool) -> Summary:
    """The totals of `rows` (one user's days)."""
    result = Summary(simulated=simulated)
    days: set[date] = set()
    for row in rows:
        add(result, row)
        days.add(row.day)
    if days:
        result.trading_days = len(days)
        result.first_day, result.last_day = min(days), max(days)
    return finish(result)


def bucket_start(day: date, period: Period) -> date:
    """The first day of the period holding `day`."""
    if period is Period.WEEKLY:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTHLY:
        return day.replace(day=1)
    return day


def next_start(start: date, period: Period) -> date:
    """The first day of the period after the one starting on `start`."""
    if period is Period.WEEKLY:
        return start + timedelta(days=7)
    if period is Period.MONTHLY:
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def default_start(end: date, period: Period) -> date:
    """The first day of the default range ending on `end`."""
    start = bucket_start(end, period)
    for _ in range(DEFAULT_BUCKETS[period] - 1):
        start = bucket_start(start - timedelta(days=1), period)
    return start


def period_starts(start: date, end: date, period: Period) -> list[date]:
    """The first day of every period from the one holding `start` to the one holding `end`."""
    starts = []
    at = bucket_start(start, period)
    while at <= end:
        starts.append(at)
        at = next_start(at, period)
    return starts


def performance(rows: Iterable[DayRow], *, simulated: bool, period: Period, start: date,
                end: date) -> Performance:
    """`rows` grouped into periods covering `start`…`end` (clipped to that range)."""
    buckets = {s: Bucket(start=max(s, start),
                         end=min(next_start(s, period) - timedelta(days=1), end))
               for s in period_starts(start, end, period)}
    for row in rows:
        if start <= row.day <= end:
            add(buckets[bucket_start(row.day, period)], row)
    return Performance(simulated=simulated, period=period, start=start, end=end,
                       buckets=[finish(b) for b in buckets.values()])


def day_of(moment: datetime) -> date:
    """The IST calendar day of an aware datetime."""
    return moment.astimezone(IST).date()
