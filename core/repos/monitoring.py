"""Platform-wide aggregates for health and metrics (ADM-3, OPS-2): counts, never rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Float, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import OrderStatus, StrategyStatus
from core.db.models import BrokerCredential, ErrorLog, Order, Strategy, User

IN_FLIGHT = (OrderStatus.PENDING.value, OrderStatus.SENT.value, OrderStatus.UNKNOWN.value,
             OrderStatus.ACCEPTED.value)
"""Orders not yet final: the executor owes them an outcome."""


@dataclass(frozen=True, slots=True)
class Percentiles:
    """p50/p90/p99 of a duration in milliseconds over `count` samples (None when empty)."""

    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None


async def active_users(session: AsyncSession) -> int:
    """Users who may log in (active, not deleted)."""
    return int(await session.scalar(select(func.count()).select_from(User).where(
        User.is_active.is_(True), User.deleted_at.is_(None))) or 0)


async def running_strategies(session: AsyncSession) -> tuple[int, int]:
    """Running strategies, and how many users run at least one."""
    row = (await session.execute(select(func.count(), func.count(Strategy.user_id.distinct()))
                                 .where(Strategy.status == StrategyStatus.RUNNING.value,
                                        Strategy.deleted_at.is_(None)))).one()
    return int(row[0]), int(row[1])


async def orders_by_status_and_broker(session: AsyncSession,
                                      day: date) -> list[tuple[str, str, int]]:
    """`(status, broker_type, count)` of one trading day's orders."""
    rows = await session.execute(
        select(Order.status, Order.broker_type, func.count())
        .where(Order.trading_day == day)
        .group_by(Order.status, Order.broker_type).order_by(Order.status, Order.broker_type))
    return [(str(s), str(b), int(n)) for s, b, n in rows]


async def order_latency(session: AsyncSession, day: date) -> dict[str, Percentiles]:
    """Intent stored → sent to the broker (`sent`) and → final (`completed`), one day."""
    out: dict[str, Percentiles] = {}
    for name, end in (("sent", Order.sent_at), ("completed", Order.completed_at)):
        ms = cast(func.extract("epoch", end - Order.created_at) * 1000, Float)
        row = (await session.execute(
            select(func.count(), *(func.percentile_cont(q).within_group(ms)
                                   for q in (0.5, 0.9, 0.99)))
            .where(Order.trading_day == day, end.is_not(None)))).one()
        out[name] = Percentiles(int(row[0]), *(None if v is None else round(float(v), 3)
                                               for v in row[1:]))
    return out


async def in_flight_orders(session: AsyncSession) -> int:
    """Orders not yet final, on any day."""
    return int(await session.scalar(select(func.count()).select_from(Order)
                                    .where(Order.status.in_(IN_FLIGHT))) or 0)


async def errors_since(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Persisted error records since `since`, by level."""
    rows = await session.execute(select(ErrorLog.level, func.count())
                                 .where(ErrorLog.created_at >= since).group_by(ErrorLog.level))
    return {str(level): int(n) for level, n in rows}


def _state(now: datetime) -> ColumnElement[str]:
    c = BrokerCredential
    return case(
        (c.encrypted_access_token.is_(None), literal("pending_login")),
        (c.token_expires_at.is_not(None) & (c.token_expires_at <= now), literal("expired")),
        (c.is_valid.is_(True), literal("connected")),
        else_=literal("invalid"))


async def connection_states(session: AsyncSession,
                            now: datetime) -> list[tuple[str, str, int]]:
    """`(broker_type, state, count)` of the live broker connections (connections/model.py's
    states, computed in SQL)."""
    state = _state(now)
    rows = await session.execute(
        select(BrokerCredential.broker_type, state, func.count())
        .where(BrokerCredential.deleted_at.is_(None))
        .group_by(BrokerCredential.broker_type, state))
    return [(str(b), str(s), int(n)) for b, s, n in rows]


async def connected_ids(session: AsyncSession, now: datetime,
                        limit: int) -> list[tuple[str, str]]:
    """`(id, broker_type)` of up to `limit` connected connections, newest validation first."""
    rows = await session.execute(
        select(BrokerCredential.id, BrokerCredential.broker_type)
        .where(BrokerCredential.deleted_at.is_(None), _state(now) == "connected")
        .order_by(BrokerCredential.last_validated_at.desc().nulls_last())
        .limit(limit))
    return [(str(i), str(b)) for i, b in rows]
