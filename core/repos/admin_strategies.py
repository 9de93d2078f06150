"""Admin reads of strategies across every user (ADM-2); tenant reads stay in strategies.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import BrokerType, StrategyStatus
from core.db.models import BrokerCredential, Order, Strategy, User


@dataclass(frozen=True, slots=True)
class AdminStrategyFilter:
    """Filters of the admin strategy list; every one optional."""

    user_id: str | None = None
    status: StrategyStatus | None = None
    broker: str | None = None
    """`paper`, a broker type (`zerodha` …) or one connection's `brk_` id."""
    exchange: str | None = None
    symbol: str | None = None
    is_simulated: bool | None = None


@dataclass(frozen=True, slots=True)
class OwnedStrategy:
    """A strategy with its owner's e-mail and its connection's broker type."""

    strategy: Strategy
    user_email: str
    broker_type: str


_SELECT = (Strategy, User.email, BrokerCredential.broker_type)


def _owned(row: Sequence[object]) -> OwnedStrategy:
    strategy, email, broker_type = row
    assert isinstance(strategy, Strategy)
    return OwnedStrategy(strategy, str(email), str(broker_type or BrokerType.PAPER.value))


async def page(session: AsyncSession, flt: AdminStrategyFilter, *, limit: int,
               before_id: str | None) -> list[OwnedStrategy]:
    """Strategies of every user, newest first (ids sort by creation time), not deleted."""
    query = select(*_SELECT).join(User, User.id == Strategy.user_id).outerjoin(
        BrokerCredential, BrokerCredential.id == Strategy.broker_credential_id).where(
        Strategy.deleted_at.is_(None))
    if flt.user_id is not None:
        query = query.where(Strategy.user_id == flt.user_id)
    if flt.status is not None:
        query = query.where(Strategy.status == flt.status.value)
    if flt.broker == BrokerType.PAPER.value:
        query = query.where(Strategy.broker_credential_id.is_(None))
    elif flt.broker is not None and flt.broker.startswith("brk_"):
        query = query.where(Strategy.broker_credential_id == flt.broker)
    elif flt.broker is not None:
        query = query.where(BrokerCredential.broker_type == flt.broker)
    if flt.exchange is not None:
        query = query.where(Strategy.exchange == flt.exchange)
    if flt.symbol is not None:
        query = query.where(Strategy.symbol == flt.symbol)
    if flt.is_simulated is not None:
        query = query.where(Strategy.is_simulated.is_(flt.is_simulated))
    if before_id is not None:
        query = query.where(Strategy.id < before_id)
    rows = await session.execute(query.order_by(Strategy.id.desc()).limit(limit))
    return [_owned(row) for row in rows]


async def get(session: AsyncSession, strategy_id: str) -> OwnedStrategy | None:
    """Any user's (not deleted) strategy."""
    row = (await session.execute(
        select(*_SELECT).join(User, User.id == Strategy.user_id).outerjoin(
            BrokerCredential, BrokerCredential.id == Strategy.broker_credential_id)
        .where(Strategy.id == strategy_id, Strategy.deleted_at.is_(None)))).first()
    return _owned(row) if row is not None else None


async def orders_of(session: AsyncSession, strategy_id: str, *, limit: int) -> Sequence[Order]:
    """The strategy's orders, newest first."""
    return (await session.execute(select(Order).where(Order.strategy_id == strategy_id)
                                  .order_by(Order.id.desc()).limit(limit))).scalars().all()
