"""SQL aggregates of orders and fills for analytics (ANA-1…ANA-3).

Every figure is a day's: per (user, day) and per (day, broker). Days up to the last rolled-up
one are read from the daily tables, later days from `orders` (the "live" part), so dashboards
never scan all orders. P&L is `core.risk`'s round trip (one formula for the daily-loss halt
and for analytics). Real and simulated orders are never mixed: every read takes
`simulated` and filters on it.

Order counts: `orders_total` is every order that was tried (all but SKIPPED, which never
reached a broker), `orders_filled` the FILLED ones, `orders_rejected` those that ended with
nothing or only part filled (REJECTED, FAILED, CANCELLED); the rest are still settling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    TIMESTAMP,
    ColumnElement,
    Select,
    and_,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import IST
from core.db.enums import OrderStatus
from core.db.models import (
    AnalyticsRollupDay,
    DailyBrokerStats,
    DailyUserStats,
    Order,
    Strategy,
    User,
)
from core.risk import FILLED_ONLY, fill_sums, round_trip_pnl

ENDED_UNFILLED: Final = (OrderStatus.REJECTED.value, OrderStatus.FAILED.value,
                         OrderStatus.CANCELLED.value)
TRIED: Final = Order.status != OrderStatus.SKIPPED.value
ZERO: Final = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class DayRow:
    """One user's (or, summed, everyone's) figures of one trading day."""

    day: date
    user_id: str
    orders_total: int
    orders_filled: int
    orders_rejected: int
    trades: int
    wins: int
    losses: int
    gross_pnl: Decimal


@dataclass(frozen=True, slots=True)
class BrokerDayRow:
    """One day's orders at one broker type."""

    day: date
    broker_type: str
    orders_total: int
    orders_filled: int
    orders_rejected: int
    turnover: Decimal


@dataclass(frozen=True, slots=True)
class StrategyRow:
    """One strategy's figures over a range of days."""

    strategy_id: str
    name: str
    symbol: str
    orders_total: int
    orders_filled: int
    orders_rejected: int
    trades: int
    wins: int
    losses: int
    gross_pnl: Decimal
    last_day: date | None


# ---- the live aggregates (from `orders`) --------------------------------------------------

def _counts() -> list[Any]:
    return [func.count().filter(TRIED).label("orders_total"),
            func.count().filter(Order.status == OrderStatus.FILLED.value).label("orders_filled"),
            func.count().filter(Order.status.in_(ENDED_UNFILLED)).label("orders_rejected")]


def _round_trips(*where: ColumnElement[bool]) -> Any:
    """Per (user, strategy, day, simulated): order counts and the fill sums of P&L."""
    return (select(Order.user_id, Order.strategy_id, Order.trading_day.label("day"),
                   Order.is_simulated, *_counts(), *fill_sums())
            .where(*where)
            .group_by(Order.user_id, Order.strategy_id, Order.trading_day, Order.is_simulated)
            .subquery())


def _trip_aggregates(c: Any) -> list[Any]:
    pnl = round_trip_pnl(c)
    return [func.sum(c.orders_total).label("orders_total"),
            func.sum(c.orders_filled).label("orders_filled"),
            func.sum(c.orders_rejected).label("orders_rejected"),
            func.count(pnl).label("trades"),
            func.count().filter(pnl > 0).label("wins"),
            func.count().filter(pnl < 0).label("losses"),
            # Rounded per day, as the rollup stores it, so live and rolled-up days agree.
            func.round(func.coalesce(func.sum(pnl), 0), 2).label("gross_pnl")]


def user_days_query(*where: ColumnElement[bool]) -> Select[Any]:
    """(user_id, day, is_simulated, counts…, trades, wins, losses, gross_pnl) of the orders
    matching `where`, one row per user, day and kind."""
    c = _round_trips(*where).c
    return (select(c.user_id, c.day, c.is_simulated, *_trip_aggregates(c))
            .group_by(c.user_id, c.day, c.is_simulated))


def broker_days_query(*where: ColumnElement[bool]) -> Select[Any]:
    """(day, is_simulated, broker_type, counts…, turnover) of the orders matching `where`."""
    filled_value = func.sum(Order.average_price * Order.filled_quantity).filter(*FILLED_ONLY)
    return (select(Order.trading_day.label("day"), Order.is_simulated, Order.broker_type,
                   *_counts(), func.coalesce(filled_value, 0).label("turnover"))
            .where(*where)
            .group_by(Order.trading_day, Order.is_simulated, Order.broker_type))


def _day_row(row: Any) -> DayRow:
    return DayRow(day=row.day, user_id=row.user_id, orders_total=int(row.orders_total),
                  orders_filled=int(row.orders_filled),
                  orders_rejected=int(row.orders_rejected), trades=int(row.trades),
                  wins=int(row.wins), losses=int(row.losses),
                  gross_pnl=Decimal(row.gross_pnl).quantize(ZERO))


def _after(watermark: date | None, start: date | None) -> date | None:
    """The first day read live: after the watermark and not before `start`."""
    first = None if watermark is None else date.fromordinal(watermark.toordinal() + 1)
    if start is None:
        return first
    return start if first is None else max(first, start)


async def watermark(session: AsyncSession) -> date | None:
    """The last rolled-up day (every earlier day with orders is rolled up too)."""
    day: date | None = (await session.execute(
        select(func.max(AnalyticsRollupDay.day)))).scalar_one()
    return day


async def user_days(session: AsyncSession, *, simulated: bool, user_id: str | None = None,
                    start: date | None = None, end: date | None = None,
                    ) -> list[DayRow]:
    """Per-user days from `start` to `end` (inclusive; None = unbounded) of one user, or of
    every user when `user_id` is None: rolled-up rows, then live ones after the watermark."""
    mark = await watermark(session)
    rows: list[DayRow] = []
    if mark is not None and (start is None or start <= mark):
        s = DailyUserStats
        query = select(s).where(s.is_simulated.is_(simulated), s.day <= mark)
        if user_id is not None:
            query = query.where(s.user_id == user_id)
        if start is not None:
            query = query.where(s.day >= start)
        if end is not None:
            query = query.where(s.day <= end)
        for r in (await session.execute(query)).scalars():
            rows.append(DayRow(day=r.day, user_id=r.user_id, orders_total=r.orders_total,
                               orders_filled=r.orders_filled,
                               orders_rejected=r.orders_rejected, trades=r.trades,
                               wins=r.wins, losses=r.losses, gross_pnl=r.gross_pnl))
    first = _after(mark, start)
    if end is not None and first is not None and first > end:
        return rows
    where: list[ColumnElement[bool]] = [Order.is_simulated.is_(simulated)]
    if user_id is not None:
        where.append(Order.user_id == user_id)
    if first is not None:
        where.append(Order.trading_day >= first)
    if end is not None:
        where.append(Order.trading_day <= end)
    rows += [_day_row(r) for r in await session.execute(user_days_query(*where))]
    return rows


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
    first = _after(mark, start)
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


async def strategy_totals(session: AsyncSession, user_id: str, *, simulated: bool,
                          start: date | None = None, end: date | None = None,
                          ) -> list[StrategyRow]:
    """Per-strategy figures of one user's orders (an indexed read of that user's orders
    only), best P&L first."""
    where: list[ColumnElement[bool]] = [Order.user_id == user_id,
                                        Order.is_simulated.is_(simulated)]
    if start is not None:
        where.append(Order.trading_day >= start)
    if end is not None:
        where.append(Order.trading_day <= end)
    c = _round_trips(*where).c
    per = (select(c.strategy_id, func.max(c.day).label("last_day"), *_trip_aggregates(c))
           .group_by(c.strategy_id).subquery())
    query = (select(per, Strategy.name, Strategy.exchange, Strategy.symbol)
             .join(Strategy, and_(Strategy.id == per.c.strategy_id,
                                  Strategy.user_id == user_id))
             .order_by(per.c.gross_pnl.desc(), per.c.strategy_id))
    return [StrategyRow(strategy_id=r.strategy_id, name=r.name,
                        symbol=f"{r.exchange}:{r.symbol}", orders_total=int(r.orders_total),
                        orders_filled=int(r.orders_filled),
                        orders_rejected=int(r.orders_rejected), trades=int(r.trades),
                        wins=int(r.wins), losses=int(r.losses),
                        gross_pnl=Decimal(r.gross_pnl).quantize(ZERO), last_day=r.last_day)
            for r in await session.execute(query)]


# ---- users --------------------------------------------------------------------------------

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


# ---- the rollup ---------------------------------------------------------------------------

async def first_unrolled(session: AsyncSession) -> date | None:
    """The next day to roll up: the day after the watermark, or the first day with orders
    when nothing is rolled up yet (None when there are no orders at all)."""
    mark = await watermark(session)
    if mark is not None:
        return date.fromordinal(mark.toordinal() + 1)
    first: date | None = (await session.execute(select(func.min(Order.trading_day)))
                          ).scalar_one()
    return first


async def roll_up(session: AsyncSession, day: date, now: datetime) -> int:
    """Replace `day`'s rows in the daily tables with those its orders give now, and mark
    the day rolled up; returns the per-user rows written. Idempotent; run it in a
    transaction. The marker row is written first: a second rollup of the same day waits
    on it until the first commits, then replaces that one's rows."""
    marker = pg_insert(AnalyticsRollupDay).values(day=day, rolled_at=now, user_rows=0)
    await session.execute(marker.on_conflict_do_update(
        index_elements=[AnalyticsRollupDay.day], set_={"rolled_at": now}))
    await session.execute(delete(DailyUserStats).where(DailyUserStats.day == day))
    await session.execute(delete(DailyBrokerStats).where(DailyBrokerStats.day == day))
    users = user_days_query(Order.trading_day == day).subquery()
    columns = ["user_id", "day", "is_simulated", "orders_total", "orders_filled",
               "orders_rejected", "trades", "wins", "losses", "gross_pnl"]
    written = (await session.execute(
        insert(DailyUserStats).from_select(
            [*columns, "charges", "net_pnl"],
            select(*[users.c[n] for n in columns], literal(0, DailyUserStats.charges.type),
                   users.c.gross_pnl))
        .returning(DailyUserStats.user_id))).all()
    brokers = broker_days_query(Order.trading_day == day).subquery()
    await session.execute(insert(DailyBrokerStats).from_select(
        ["day", "is_simulated", "broker_type", "orders_total", "orders_filled",
         "orders_rejected", "turnover"], select(brokers)))
    await session.execute(pg_insert(AnalyticsRollupDay).values(
        day=day, rolled_at=now, user_rows=len(written)).on_conflict_do_update(
        index_elements=[AnalyticsRollupDay.day],
        set_={"rolled_at": now, "user_rows": len(written)}))
    return len(written)


async def rolled_rows(session: AsyncSession, day: date) -> Sequence[DailyUserStats]:
    """A day's rolled-up user rows, in key order (for checks and tests)."""
    return (await session.execute(
        select(DailyUserStats).where(DailyUserStats.day == day)
        .order_by(DailyUserStats.user_id, DailyUserStats.is_simulated))).scalars().all()


# ---- platform-wide (admin) ----------------------------------------------------------------

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
    first = _after(mark, start)
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
    first = _after(mark, start)
    if first is not None and first <= end:
        query = (select(bucket(Order.trading_day), Order.user_id)
                 .where(Order.is_simulated.is_(simulated), TRIED, Order.trading_day >= first,
                        Order.trading_day <= end).distinct())
        pairs.update((r[0], r[1]) for r in await session.execute(query))
    return pairs
