"""Data access for `strategies`; every query of a user's strategies filters by user id here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import StrategyStatus
from core.db.models import Strategy

SortKey = Literal["created", "updated", "name"]


async def add(session: AsyncSession, strategy: Strategy) -> Strategy:
    """Insert a strategy (the caller commits)."""
    session.add(strategy)
    await session.flush()
    return strategy


async def get_owned(session: AsyncSession, user_id: str, strategy_id: str, *,
                    for_update: bool = False) -> Strategy | None:
    """The user's (not deleted) strategy; another user's is None, as if it did not exist."""
    query = select(Strategy).where(Strategy.id == strategy_id, Strategy.user_id == user_id,
                                   Strategy.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_owned_many(session: AsyncSession, user_id: str, strategy_ids: list[str],
                         ) -> list[Strategy]:
    """The user's strategies among these ids, locked for update in id order (no deadlock
    between two bulk calls)."""
    result = await session.execute(
        select(Strategy).where(Strategy.id.in_(strategy_ids), Strategy.user_id == user_id,
                               Strategy.deleted_at.is_(None))
        .order_by(Strategy.id).with_for_update())
    return list(result.scalars())


@dataclass(frozen=True, slots=True)
class StrategyFilter:
    """List filters."""

    status: StrategyStatus | None = None
    exchange: str | None = None
    symbol: str | None = None


def _sort_column(sort: SortKey) -> Any:
    return {"created": Strategy.id, "updated": Strategy.updated_at, "name": Strategy.name}[sort]


LIST_COLUMNS = (
    Strategy.id, Strategy.name, Strategy.exchange, Strategy.symbol, Strategy.buy_time,
    Strategy.sell_time, Strategy.stop_loss_type, Strategy.stop_loss_value, Strategy.quantity,
    Strategy.broker_credential_id, Strategy.target_price, Strategy.trailing_sl_pct,
    Strategy.is_simulated, Strategy.status, Strategy.position, Strategy.rev,
    Strategy.created_at, Strategy.updated_at, Strategy.started_at, Strategy.stopped_at,
)
"""What a list shows: plain rows, not ORM entities (a page is fifty of them)."""


async def list_owned(session: AsyncSession, user_id: str, flt: StrategyFilter, *,
                     sort: SortKey, descending: bool, limit: int,
                     after: tuple[Any, str] | None) -> Sequence[Row[Any]]:
    """A page of the user's strategies by keyset (sort value, id): stable under inserts."""
    column = _sort_column(sort)
    query = select(*LIST_COLUMNS).where(Strategy.user_id == user_id,
                                        Strategy.deleted_at.is_(None))
    if flt.status is not None:
        query = query.where(Strategy.status == flt.status.value)
    if flt.symbol is not None:
        query = query.where(Strategy.exchange == flt.exchange, Strategy.symbol == flt.symbol)
    if after is not None:
        value, last_id = after
        if sort == "created":
            query = query.where(Strategy.id < last_id if descending else Strategy.id > last_id)
        elif descending:
            query = query.where((column < value) | ((column == value) & (Strategy.id < last_id)))
        else:
            query = query.where((column > value) | ((column == value) & (Strategy.id > last_id)))
    order = [column.desc(), Strategy.id.desc()] if descending else [column.asc(),
                                                                    Strategy.id.asc()]
    result = await session.execute(query.order_by(*order).limit(limit))
    rows: Sequence[Row[Any]] = result.all()  # type: ignore[assignment]
    return rows


async def count_for_user(session: AsyncSession, user_id: str) -> int:
    """How many (not deleted) strategies a user has."""
    result = await session.execute(
        select(func.count()).select_from(Strategy)
        .where(Strategy.user_id == user_id, Strategy.deleted_at.is_(None)))
    return int(result.scalar_one())


async def stop_all_for_user(session: AsyncSession, user_id: str, *, now: datetime,
                            reason: str) -> list[tuple[str, int]]:
    """Mark every running strategy of a user STOPPED; returns (id, new rev) of each."""
    # Lock them first in id order, as the executor does: an UPDATE alone would lock them
    # in the order it finds them and could deadlock with an executor batch.
    await session.execute(
        select(Strategy.id)
        .where(Strategy.user_id == user_id, Strategy.status == StrategyStatus.RUNNING.value)
        .order_by(Strategy.id).with_for_update())
    result = await session.execute(
        update(Strategy)
        .where(Strategy.user_id == user_id, Strategy.status == StrategyStatus.RUNNING.value)
        .values(status=StrategyStatus.STOPPED.value, stopped_at=now, status_reason=reason,
                rev=Strategy.rev + 1, updated_at=now)
        .returning(Strategy.id, Strategy.rev))
    return [(row[0], row[1]) for row in result.all()]


async def using_credential(session: AsyncSession, credential_id: str,
                           ) -> list[tuple[str, str, str]]:
    """(id, status, position) of every live strategy on a broker connection, each row
    locked: a strategy being started on it now is waited for and seen as started."""
    rows = (await session.execute(
        select(Strategy.id, Strategy.status, Strategy.position)
        .where(Strategy.broker_credential_id == credential_id, Strategy.deleted_at.is_(None))
        .order_by(Strategy.id).with_for_update())).all()
    return [(r[0], r[1], r[2]) for r in rows]


async def running_per_credential(session: AsyncSession, user_id: str) -> dict[str, int]:
    """How many of the user's strategies run on each broker connection."""
    rows = (await session.execute(
        select(Strategy.broker_credential_id, func.count())
        .where(Strategy.user_id == user_id, Strategy.status == StrategyStatus.RUNNING.value,
               Strategy.deleted_at.is_(None), Strategy.broker_credential_id.is_not(None))
        .group_by(Strategy.broker_credential_id))).all()
    return {str(r[0]): int(r[1]) for r in rows}
