"""Strategies across users (ADM-2): list, detail with order history, force-stop (audited)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import error_codes
from core.db.enums import Position, StrategyStatus
from core.db.models import Order, Strategy
from core.errors import Conflict, NotFound, Unavailable
from core.repos import admin_strategies as repo
from core.repos import audit
from core.repos.admin_strategies import AdminStrategyFilter, OwnedStrategy
from core.repos.audit import Actor
from core.strategies.service import StrategyService

ORDER_HISTORY: Final = 100
"""Orders shown with a strategy's detail (newest first)."""


@dataclass(frozen=True, slots=True)
class StrategyPage:
    """One page and the cursor of the next."""

    items: list[OwnedStrategy]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class StrategyDetail:
    """A strategy, its owner, and its latest orders."""

    owned: OwnedStrategy
    orders: Sequence[Order]


@dataclass(frozen=True, slots=True)
class ForceStop:
    """What a force-stop did."""

    strategy: Strategy
    stopped: bool
    """The strategy was RUNNING and is now STOPPED."""
    square_off: bool
    """An open position is being squared off (a SQUARE_OFF command went to the executor)."""


class AdminStrategies:
    """Every user's strategies, as an admin sees and stops them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 strategies: StrategyService) -> None:
        self._sessions = sessions
        self._strategies = strategies

    async def page(self, flt: AdminStrategyFilter, *, limit: int,
                   cursor: str | None) -> StrategyPage:
        """Newest first; `cursor` is the last id of the previous page."""
        async with self._sessions() as session:
            rows = await repo.page(session, flt, limit=limit + 1, before_id=cursor)
        more = len(rows) > limit
        rows = rows[:limit]
        return StrategyPage(rows, rows[-1].strategy.id if more and rows else None)

    async def detail(self, strategy_id: str) -> StrategyDetail:
        """One strategy of any user with its latest orders."""
        async with self._sessions() as session:
            owned = await repo.get(session, strategy_id)
            if owned is None:
                raise NotFound("Strategy not found")
            orders = await repo.orders_of(session, strategy_id, limit=ORDER_HISTORY)
        return StrategyDetail(owned, orders)

    async def force_stop(self, actor: Actor, strategy_id: str, reason: str) -> ForceStop:
        """Stop a RUNNING strategy and square off its open position (the user's own stop,
        RUN-9); a strategy already stopped that still holds a position is squared off.
        Refused (409) when there is nothing to stop and nothing to close."""
        async with self._sessions() as session:
            owned = await repo.get(session, strategy_id)
        if owned is None:
            raise NotFound("Strategy not found")
        row = owned.strategy
        before = {"status": row.status, "position": row.position}
        why = f"force-stopped by admin: {reason}"
        stopped = row.status == StrategyStatus.RUNNING.value
        square_off = row.position == Position.BOUGHT.value
        if not stopped and not square_off:
            raise Conflict(f"The strategy is {row.status} and holds no open position",
                           code=error_codes.STR_ILLEGAL_TRANSITION,
                           details={"status": row.status, "position": row.position})
        try:
            if stopped:
                result = await self._strategies.stop(row.user_id, row.id, reason=why)
                square_off = result.position == Position.BOUGHT.value
            else:
                result = await self._strategies.square_off(row.user_id, row.id)
        except Unavailable as exc:
            # Saved, but the live update or the square-off is pending: still an admin action.
            await self._audit(actor, row, before, reason, stopped, square_off,
                              pending=exc.message)
            raise
        await self._audit(actor, result, before, reason, stopped, square_off)
        return ForceStop(result, stopped, square_off)

    async def _audit(self, actor: Actor, row: Strategy, before: dict[str, str], reason: str,
                     stopped: bool, square_off: bool, pending: str | None = None) -> None:
        details: dict[str, object] = {
            "user_id": row.user_id, "reason": reason, "before": before,
            "after": {"status": row.status, "position": row.position},
            "stopped": stopped, "square_off": square_off}
        if pending is not None:
            details["pending"] = pending
        async with self._sessions() as session, session.begin():
            await audit.record(session, actor, "admin.strategies.force_stop",
                               target_type="strategy", target_id=row.id, details=details)
