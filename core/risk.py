"""The per-user max daily loss (RUN-8): realised P&L of a day, and the halt it trips."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, Label, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import OrderStatus
from core.db.models import Order, User
from core.halts import HaltStore
from core.repos.audit import Actor

PAISE: Final = Decimal("0.01")
SYSTEM: Final = Actor(user_id=None, role="system")
"""The audit actor of halts the platform trips by itself."""


FILLED_ONLY: Final = (Order.status == OrderStatus.FILLED.value, Order.filled_quantity > 0,
                      Order.average_price.is_not(None))
"""The orders whose fills make P&L."""


def _side_sum(side: str, value: Any) -> ColumnElement[Any]:
    # Every exit action (SELL, SL_EXIT, TARGET_EXIT, SQUARE_OFF) is a SELL order. The fill
    # condition is inside the sum, so a group may also hold orders that did not fill.
    return func.coalesce(func.sum(case((and_(Order.side == side, *FILLED_ONLY), value))), 0)


def fill_sums() -> list[Label[Any]]:
    """Per-group sums of fills, `buy_value`, `buy_qty`, `sell_value`, `sell_qty`: select
    them grouped by strategy and trading day, then apply `round_trip_pnl` to the result."""
    value = Order.average_price * Order.filled_quantity
    return [_side_sum("BUY", value).label("buy_value"),
            _side_sum("BUY", Order.filled_quantity).label("buy_qty"),
            _side_sum("SELL", value).label("sell_value"),
            _side_sum("SELL", Order.filled_quantity).label("sell_qty")]


def round_trip_pnl(c: Any) -> ColumnElement[Any]:
    """The realised P&L of one strategy's day from the `fill_sums` columns `c`:
    (average exit price - average entry price) x the quantity both bought and sold.

    NULL when either side has no fill (an open position, or an exit with no entry), which
    SUM skips and COUNT does not count.
    """
    pnl: ColumnElement[Any] = (
        (c.sell_value / func.nullif(c.sell_qty, 0) - c.buy_value / func.nullif(c.buy_qty, 0))
        * func.least(c.buy_qty, c.sell_qty))
    return pnl


async def realised_pnl(session: AsyncSession, user_id: str, trading_day: date) -> Decimal:
    """Realised P&L of a user's real (non-simulated) filled orders on one trading day.

    Per strategy: (average exit price - average entry price) x the quantity both bought and
    sold; an open position (a BUY without a filled exit) adds nothing.
    """
    per_strategy = (
        select(*fill_sums())
        .where(Order.user_id == user_id, Order.trading_day == trading_day,
               Order.is_simulated.is_(False), *FILLED_ONLY)
        .group_by(Order.strategy_id)
        .subquery()
    )
    pnl = round_trip_pnl(per_strategy.c)
    total = (await session.execute(select(func.coalesce(func.sum(pnl), 0)))).scalar_one()
    return Decimal(total).quantize(PAISE)


async def daily_loss_limit(session: AsyncSession, user_id: str) -> Decimal | None:
    """The user's max daily loss, None if they have none (or are deleted: nothing to halt)."""
    limit: Decimal | None = (await session.execute(
        select(User.max_daily_loss).where(User.id == user_id, User.deleted_at.is_(None))
    )).scalar_one_or_none()
    return limit


def breached(pnl: Decimal, limit: Decimal) -> bool:
    """True if a realised `pnl` breaks a max daily loss of `limit` (a gain never does)."""
    return pnl < 0 and pnl <= -limit


def rupees(amount: Decimal) -> str:
    """`₹1,234.50`, `-₹80.00`."""
    sign = "-" if amount < 0 else ""
    return f"{sign}₹{abs(amount):,.2f}"


async def daily_loss_breach(session: AsyncSession, user_id: str, trading_day: date,
                            ) -> str | None:
    """Why the user must be halted, if their realised loss on `trading_day` reached their
    max daily loss (read after the exit fill has committed); None if it did not."""
    limit = await daily_loss_limit(session, user_id)
    if limit is None:
        return None
    pnl = await realised_pnl(session, user_id, trading_day)
    if not breached(pnl, limit):
        return None
    return f"max daily loss {rupees(limit)} reached: realised {rupees(pnl)} on {trading_day}"


async def enforce_daily_loss(session: AsyncSession, halts: HaltStore, user_id: str,
                             trading_day: date) -> bool:
    """Halt the user if their realised loss today reached their max daily loss.

    Reads with the caller's `session`; the halt is engaged in the store's own transaction,
    audited as the system. An engaged halt is left as it is. Returns True if this call
    tripped the halt.
    """
    reason = await daily_loss_breach(session, user_id, trading_day)
    if reason is None:
        return False
    tripped = await halts.engage_unless_engaged(user_id, reason, set_by=None, actor=SYSTEM)
    return tripped is not None
