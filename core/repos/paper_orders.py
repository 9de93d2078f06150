"""Data access for `paper_orders`: the paper broker's book, per paper account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

import asyncpg
from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import PaperOrder
from core.db.rowmap import RowMap

_OPEN = "OPEN"
_COMPLETE = "COMPLETE"
_ROWS: Final = RowMap(PaperOrder)
_INSERT: Final = _ROWS.insert_sql()


@dataclass(frozen=True, slots=True)
class NetPosition:
    """Filled quantities and values of one instrument over a period."""

    exchange: str
    symbol: str
    bought: int
    sold: int
    buy_value: Decimal
    sell_value: Decimal


async def book(conn: asyncpg.Connection, rows: list[PaperOrder]) -> None:
    """Book orders as received, all or none, in one round trip (on a driver connection,
    core.db.driver: the paper exchange books in the executor's order path)."""
    await conn.executemany(_INSERT, [_ROWS.values(row) for row in rows])


async def get(session: AsyncSession, account: str, order_id: str) -> PaperOrder | None:
    """One order of the account, of any day."""
    result = await session.execute(
        select(PaperOrder).where(PaperOrder.id == order_id, PaperOrder.account == account))
    return result.scalar_one_or_none()


async def between(session: AsyncSession, account: str, start: datetime,
                  end: datetime) -> list[PaperOrder]:
    """The account's orders received in [start, end), oldest first."""
    result = await session.execute(
        select(PaperOrder)
        .where(PaperOrder.account == account, PaperOrder.created_at >= start,
               PaperOrder.created_at < end)
        .order_by(PaperOrder.created_at, PaperOrder.id))
    return list(result.scalars())


async def latest_by_tag(session: AsyncSession, account: str,
                        client_tag: str) -> PaperOrder | None:
    """The newest order of the account carrying `client_tag` (tags are not unique), any day."""
    result = await session.execute(
        select(PaperOrder)
        .where(PaperOrder.account == account, PaperOrder.client_tag == client_tag)
        .order_by(PaperOrder.created_at.desc(), PaperOrder.id.desc())
        .limit(1))
    return result.scalar_one_or_none()


async def due(session: AsyncSession, account: str, now: datetime) -> list[PaperOrder]:
    """The account's OPEN orders whose fill time has come, oldest first."""
    result = await session.execute(
        select(PaperOrder)
        .where(PaperOrder.account == account, PaperOrder.status == _OPEN,
               PaperOrder.fill_at <= now)
        .order_by(PaperOrder.created_at, PaperOrder.id))
    return list(result.scalars())


async def settle(session: AsyncSession, order_id: str, *, status: str,
                 status_message: str | None, filled_quantity: int,
                 average_price: Decimal | None, filled_at: datetime | None) -> bool:
    """Give an OPEN order its final state; False if another reader settled it first."""
    result = await session.execute(
        update(PaperOrder)
        .where(PaperOrder.id == order_id, PaperOrder.status == _OPEN)
        .values(status=status, status_message=status_message,
                filled_quantity=filled_quantity, average_price=average_price,
                filled_at=filled_at, fill_at=None))
    return bool(getattr(result, "rowcount", 0))


async def net_positions(session: AsyncSession, account: str, start: datetime,
                        end: datetime) -> list[NetPosition]:
    """Per instrument, what the account's COMPLETE orders received in [start, end) traded."""
    buy = PaperOrder.side == "BUY"
    value = PaperOrder.filled_quantity * PaperOrder.average_price
    result = await session.execute(
        select(PaperOrder.exchange, PaperOrder.symbol,
               func.sum(case((buy, PaperOrder.filled_quantity), else_=0)),
               func.sum(case((buy, 0), else_=PaperOrder.filled_quantity)),
               func.sum(case((buy, value), else_=0)),
               func.sum(case((buy, 0), else_=value)))
        .where(PaperOrder.account == account, PaperOrder.status == _COMPLETE,
               PaperOrder.created_at >= start, PaperOrder.created_at < end)
        .group_by(PaperOrder.exchange, PaperOrder.symbol)
        .order_by(PaperOrder.exchange, PaperOrder.symbol))
    return [NetPosition(exchange, symbol, int(bought), int(sold), Decimal(buy_value),
                        Decimal(sell_value))
            for exchange, symbol, bought, sold, buy_value, sell_value in result.all()]
