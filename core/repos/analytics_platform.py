"""Platform-wide analytics (admin, ANA-2): everyone's figures per day, per broker, active
traders, signups and account and strategy counts; real and simulated never mixed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import TIMESTAMP, ColumnElement, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import IST
from core.db.models import DailyBrokerStats, DailyUserStats, Order, Strategy, User
from core.repos.analytics_queries import (
    TRIED,
    ZERO,
    broker_days_query,
    first_live_day,
    user_days_query,
    watermark,
)


@dataclass(frozen=True, slots=True)
class BrokerDayRow:
    """One day's orders at one broker type."""

    day: date
    broker_type: str
    orders_total: int
    orders_filled: int
    orders_rejected: int
    turnover: Decimal


async def broker_days(session: AsyncSession, *, simulated: bool, start: date | None = None,
                      end: date | None = None) -> list[BrokerDayRow]:
    """Per-broker days from `start` to `end`: rolled-up rows, then live ones."""
    mark = await watermark(session)
    rows: list[BrokerDayRow] = []
    if mark is not None and (start is None or start <= mark):
        b = DailyBrokerStats
        query = select(b).where(b.is_simulated.is_(simulated), b.day <= mark)
        if start is not None:
            query = query.where(b.day >= start)
        if end is not None:
            query = query.where(b.day <= end)
        rows += [BrokerDayRow(day=r.day, broker_type=r.broker_type,
                              orders_total=r.orders_total, orders_filled=r.orders_filled,
                              orders_rejected=r.orders_rejected, turnover=r.turnover)
                 for r in (await session.execute(query)).scalars()]
    first = first_live_day(mark, start)
    if end is not None and first is not None and first > end:
        return rows
    where: list[ColumnElement[bool]] = [Order.is_simulated.is_(simulated)]
    if first is not None:
        where.append(Order.trading_day >= first)
    if end is not None:
        where.append(Order.trading_day <= end)
    rows += [BrokerDayRow(day=r.day, broker_type=r.broker_type,
                          orders_total=int(r.orders_total), orders_filled=int(r.orders_filled),
                          orders_rejected=int(r.orders_rejected),
                          turnover=Decimal(r.turnover).quantize(ZERO))
             for r in await session.execute(broker_days_query(*where))]
    return rows


async def signups_by_day(session: AsyncSession, start: date, end: date,
                         ) -> dict[date, int]:
    """New accounts per IST calendar day from `start` to `end` (deleted ones included: they
    did sign up)."""
    day = func.date(func.timezone("Asia/Kolkata", User.created_at))
    lo = datetime(start.year, start.month, start.day, tzinfo=IST)
    hi = datetime.fromordinal(end.toordinal() + 1).replace(tzinfo=IST)
    rows = await session.execute(select(day.label("day"), func.count())
                                 .where(User.created_at >= lo, User.created_at < hi)
                                 .group_by(day))
    return {r[0]: int(r[1]) for r in rows}


async def user_counts(session: AsyncSession, before: datetime) -> tuple[int, int]:
    """(accounts created before `before`, of those not deleted and active)."""
    total, live = (await session.execute(select(
        func.count(), func.count().filter(User.deleted_at.is_(None), User.is_active.is_(True)))
        .where(User.created_at < before))).one()
    return int(total), int(live)


async def strategy_counts(session: AsyncSession, *, simulated: bool) -> tuple[int, int]:
    """(strategies not deleted, of those running) of one kind."""
    total, running = (await session.execute(select(
        func.count(), func.count().filter(Strategy.status == "RUNNING"))
        .where(Strategy.deleted_at.is_(None), Strategy.is_simulated.is_(simulated)))).one()
    return int(total), int(running)


@dataclass(frozen=True, slots=True)
class PlatformDay:
    """Everyone's figures of one trading day."""

    day: date
    traders: int
    """Users with at least one order tried that day."""
    orders_total: int
    orders_filled: int
    orders_rejected: int
    trades: int
    wins: int
    losses: int
    gross_pnl: Decimal


def _sums(c: Any) -> list[Any]:
    return [func.count().filter(c.orders_total > 0).label("traders"),
            *[func.sum(getattr(c, n)).label(n) for n in (
                "orders_total", "orders_filled", "orders_rejected", "trades", "wins", "losses",
                "gross_pnl")]]


async def platform_days(session: AsyncSession, *, simulated: bool, start: date | None = None,
                        end: date | None = None) -> list[PlatformDay]:
    """Per-day sums over every user, rolled-up days then live ones (SQL does the summing)."""
    mark = await watermark(session)
    parts: list[Any] = []
    if mark is not None and (start is None or start <= mark):
        s = DailyUserStats
        where = [s.is_simulated.is_(simulated), s.day <= mark]
        if start is not None:
            where.append(s.day >= start)
        if end is not None:
            where.append(s.day <= end)
        rolled = select(s).where(*where).subquery()
        parts.append(select(rolled.c.day, *_sums(rolled.c)).group_by(rolled.c.day))
    first = first_live_day(mark, start)
    if end is None or first is None or first <= end:
        live_where: list[ColumnElement[bool]] = [Order.is_simulated.is_(simulated)]
        if first is not None:
            live_where.append(Order.trading_day >= first)
        if end is not None:
            live_where.append(Order.trading_day <= end)
        live = user_days_query(*live_where).subquery()
        parts.append(select(live.c.day, *_sums(live.c)).group_by(live.c.day))
    rows: list[PlatformDay] = []
    for part in parts:
        rows += [PlatformDay(day=r.day, traders=int(r.traders),
                             orders_total=int(r.orders_total or 0),
                             orders_filled=int(r.orders_filled or 0),
                             orders_rejected=int(r.orders_rejected or 0),
                             trades=int(r.trades or 0), wins=int(r.wins or 0),
                             losses=int(r.losses or 0),
                             gross_pnl=Decimal(r.gross_pnl or 0).quantize(ZERO))
                 for r in await session.execute(part)]
    return sorted(rows, key=lambda r: r.day)


async def active_traders(session: AsyncSession, *, simulated: bool, start: date, end: date,
                         unit: str) -> set[tuple[date, str]]:
    """(first day of the period, user id) of every user who tried an order in that period;
    `unit` is a PostgreSQL `date_trunc` unit (day, week — from Monday — or month)."""
    mark = await watermark(session)
    pairs: set[tuple[date, str]] = set()

    def bucket(column: Any) -> Any:
        return func.date(func.date_trunc(unit, cast(column, TIMESTAMP))).label("bucket")

    if mark is not None and start <= mark:
        s = DailyUserStats
        query = (select(bucket(s.day), s.user_id)
                 .where(s.is_simulated.is_(simulated), s.orders_total > 0, s.day >= start,
                        s.day <= min(end, mark)).distinct())
        pairs.update((r[0], r[1]) for r in await session.execute(query))
    first = first_live_day(mark, start)
    if first is not None and first <= end:
        query = (select(bucket(Order.trading_day), Order.user_id)
                 .where(Order.is_simulated.is_(simulated), TRIED, Order.trading_day >= first,
                        Order.trading_day <= end).distinct())
        pairs.update((r[0], r[1]) for r in await session.execute(query))
    return pairs
