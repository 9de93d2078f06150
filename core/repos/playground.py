"""Data access of the playground: simulated strategies made ready for a replayed day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import Position, StrategyStatus
from core.db.models import Order, Strategy


class ReplayRefused(ValueError):
    """A strategy cannot be replayed now."""


class NotSimulated(ReplayRefused):
    """A strategy given to a replay is not a simulated paper strategy (or does not exist)."""


async def prepare_replay(session: AsyncSession, strategy_ids: Sequence[str], day: date, *,
                         started_at: datetime) -> list[tuple[Strategy, str]]:
    """Lock the strategies, forget their orders of `day` (a replay replaces the previous
    one) and set them RUNNING with no position; returns each row (id order) with the status
    it had. Only simulated paper strategies qualify: anything else raises NotSimulated."""
    wanted = sorted(set(strategy_ids))
    rows = list((await session.execute(
        select(Strategy).where(Strategy.id.in_(wanted), Strategy.deleted_at.is_(None))
        .order_by(Strategy.id).with_for_update())).scalars())
    found = {row.id for row in rows}
    for sid in wanted:
        if sid not in found:
            raise NotSimulated(f"strategy {sid} does not exist")
    for row in rows:
        if not row.is_simulated or row.broker_credential_id is not None:
            raise NotSimulated(f"strategy {row.id} is not a simulated paper strategy")
        if row.status == StrategyStatus.RUNNING.value:
            # Its live simulation owns its orders of the day; stop it first.
            raise ReplayRefused(f"strategy {row.id} is running live; stop it to replay")
    await session.execute(delete(Order).where(Order.strategy_id.in_(wanted),
                                              Order.trading_day == day,
                                              Order.is_simulated.is_(True)))
    before = [(row, row.status) for row in rows]
    for row in rows:
        row.status = StrategyStatus.RUNNING.value
        row.position = Position.NONE.value
        row.position_day = None
        row.entry_price = None
        row.last_action = None
        row.consecutive_failures = 0
        row.status_reason = None
        row.started_at = started_at
        row.rev += 1
    await session.flush()
    return before


async def restore_status(session: AsyncSession, statuses: dict[str, str]) -> None:
    """Put the strategies back in the status they had before the replay."""
    for status in sorted(set(statuses.values())):
        ids = sorted(sid for sid, s in statuses.items() if s == status)
        await session.execute(update(Strategy).where(Strategy.id.in_(ids),
                                                     Strategy.is_simulated.is_(True))
                              .values(status=status, rev=Strategy.rev + 1))


async def mark_announced(session: AsyncSession, strategy_ids: Sequence[str], day: date,
                         now: datetime) -> None:
    """Mark the replay's final orders announced (the replay announced them on its own bus):
    no live executor's sweeper may announce them again on the live streams."""
    await session.execute(update(Order).where(
        Order.strategy_id.in_(sorted(set(strategy_ids))), Order.trading_day == day,
        Order.is_simulated.is_(True), Order.announced_at.is_(None),
        Order.completed_at.is_not(None)).values(announced_at=now))
