"""The analytics rollup's writes (ANA-3): a day's orders summed into `daily_user_stats`
and `daily_broker_stats`, and the day marked rolled up (`analytics_rollup_days`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import AnalyticsRollupDay, DailyBrokerStats, DailyUserStats, Order
from core.repos.analytics_queries import broker_days_query, user_days_query, watermark


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
