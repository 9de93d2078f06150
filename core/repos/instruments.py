"""Data access for `instruments`."""

from __future__ import annotations

import csv
import importlib.resources
from typing import Final

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Instrument

BUNDLED_SOURCE: Final = "bundled"


def bundled_nse_equities() -> list[dict[str, str]]:
    """The NSE equities shipped with the code (symbol, name)."""
    text = importlib.resources.files("core").joinpath("data/nse_equity.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


async def upsert(session: AsyncSession, exchange: str, rows: list[dict[str, str]],
                 source: str) -> int:
    """Insert or refresh instruments by (exchange, symbol); returns how many rows."""
    if not rows:
        return 0
    values = [{"exchange": exchange, "symbol": r["symbol"], "name": r["name"],
               "source": source, "is_active": True} for r in rows]
    statement = insert(Instrument).values(values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=[Instrument.exchange, Instrument.symbol],
        set_={"name": statement.excluded.name, "is_active": True}))
    return len(values)


async def seed_bundled(session: AsyncSession) -> int:
    """Make sure the bundled NSE equities exist (idempotent)."""
    return await upsert(session, "NSE", bundled_nse_equities(), BUNDLED_SOURCE)


async def known(session: AsyncSession, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (exchange, symbol) pairs are active instruments."""
    if not pairs:
        return set()
    result = await session.execute(
        select(Instrument.exchange, Instrument.symbol).where(
            tuple_(Instrument.exchange, Instrument.symbol).in_(pairs),
            Instrument.is_active.is_(True)))
    return {(row[0], row[1]) for row in result.all()}


async def get(session: AsyncSession, exchange: str, symbol: str) -> Instrument | None:
    """An active instrument, or None."""
    result = await session.execute(select(Instrument).where(
        Instrument.exchange == exchange, Instrument.symbol == symbol,
        Instrument.is_active.is_(True)))
    return result.scalar_one_or_none()
