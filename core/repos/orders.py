"""Data access for `orders` and `order_logs` (DESIGN §4, RUN-5, RUN-6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.db.enums import OrderStatus
from core.db.models import Order, OrderLog, Strategy

FINAL: Final = frozenset({OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.FAILED,
                          OrderStatus.SKIPPED, OrderStatus.CANCELLED})
"""Statuses after which an order never changes again."""
OPEN: Final = frozenset(OrderStatus) - FINAL
"""Statuses of an order whose fate is still being settled with the broker."""
DEAD: Final = frozenset({OrderStatus.REJECTED, OrderStatus.FAILED, OrderStatus.SKIPPED,
                         OrderStatus.CANCELLED})
"""Final statuses in which no order exists at the broker."""


def is_final(status: str) -> bool:
    """True if an order in `status` will never change."""
    return OrderStatus(status) in FINAL


def _live(today: date) -> ColumnElement[bool]:
    """Not an order of a replayed (simulated, past) day: a playground replay settles and
    announces those itself, on its own bus, while it runs."""
    return or_(Order.is_simulated.is_(False), Order.trading_day >= today)


async def open_orders(session: AsyncSession, today: date, *, limit: int = 1000,
                      ) -> Sequence[Order]:
    """Orders whose fate is not settled yet, oldest first (for reconciliation)."""
    return (await session.execute(
        select(Order).where(Order.status.in_([s.value for s in OPEN]), _live(today))
        .order_by(Order.created_at).limit(limit))).scalars().all()


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Filters of a user's order list."""

    strategy_id: str | None = None
    status: OrderStatus | None = None
    trading_day: date | None = None


async def list_owned(session: AsyncSession, user_id: str, flt: OrderFilter, *, limit: int,
                     before_id: str | None = None) -> Sequence[Order]:
    """A page of the user's orders, newest first (ids sort by creation time)."""
    query = select(Order).where(Order.user_id == user_id)
    if flt.strategy_id is not None:
        query = query.where(Order.strategy_id == flt.strategy_id)
    if flt.status is not None:
        query = query.where(Order.status == flt.status.value)
    if flt.trading_day is not None:
        query = query.where(Order.trading_day == flt.trading_day)
    if before_id is not None:
        query = query.where(Order.id < before_id)
    return (await session.execute(query.order_by(Order.id.desc()).limit(limit))).scalars().all()


async def get_owned(session: AsyncSession, user_id: str, order_id: str) -> Order | None:
    """The user's order; another user's is None, as if it did not exist."""
    return (await session.execute(select(Order).where(
        Order.id == order_id, Order.user_id == user_id))).scalar_one_or_none()


async def logs_of(session: AsyncSession, order_id: str) -> Sequence[OrderLog]:
    """Every recorded attempt of one order, in order."""
    return (await session.execute(select(OrderLog).where(OrderLog.order_id == order_id)
                                  .order_by(OrderLog.id))).scalars().all()


async def mark_announced(session: AsyncSession, order_ids: Sequence[str],
                         now: datetime) -> None:
    """Record that final orders' runtime copies and events went out."""
    await session.execute(update(Order).where(Order.id.in_(order_ids),
                                              Order.announced_at.is_(None))
                          .values(announced_at=now))


async def unannounced(session: AsyncSession, completed_before: datetime, today: date, *,
                      limit: int = 500) -> Sequence[Order]:
    """Final orders whose announcement did not go out (a crash or an outage after commit)."""
    return (await session.execute(
        select(Order).where(Order.announced_at.is_(None), Order.completed_at.is_not(None),
                            Order.completed_at < completed_before, _live(today))
        .order_by(Order.completed_at).limit(limit))).scalars().all()


async def unprotected_positions(session: AsyncSession, trading_day: date, now_time: time,
                                ) -> Sequence[Strategy]:
    """Strategies holding a position of the day with no exit under way or done, that are no
    longer running (stopped, failed) or past their sell time: nothing else would close it."""
    live = select(Order.id).where(Order.strategy_id == Strategy.id,
                                  Order.trading_day == trading_day, Order.side == "SELL",
                                  Order.status.not_in([s.value for s in DEAD]))
    return (await session.execute(
        select(Strategy).where(Strategy.position == "BOUGHT",
                               Strategy.position_day == trading_day,
                               or_(Strategy.status != "RUNNING", Strategy.sell_time <= now_time),
                               ~live.exists()))
    ).scalars().all()


async def unfinished_on_credential(session: AsyncSession, credential_id: str,
                                   ) -> list[tuple[str, str]]:
    """(order id, strategy id) of every order on this broker connection whose fate is still
    being settled with the broker (an OPEN status), oldest first: the connection's session
    is what the executor reconciles them with."""
    rows = await session.execute(
        select(Order.id, Order.strategy_id).where(
            Order.broker_credential_id == credential_id,
            Order.status.in_(sorted(s.value for s in OPEN)))
        .order_by(Order.created_at, Order.id))
    return [(order_id, strategy_id) for order_id, strategy_id in rows.all()]
