"""Reconciliation and sweeps (DESIGN §4): nothing the executor started is left unsettled.

- Open orders (PENDING, SENT, UNKNOWN, ACCEPTED) are settled under their lock exactly as a
  redelivered command would be: looked up at the broker by tag (or id) and adopted if
  found; one proven absent is sent while its market is open, failed once it has closed.
  So an order whose command was dead-lettered still reaches its end.
- Final orders whose announcement did not go out (crash, outage) are announced again.
- A position of the day with no exit under way, on a strategy that no longer runs or is
  past its sell time, gets a SQUARE_OFF command.

It runs before the executor takes new commands (bounded by a deadline, then it carries on
in the background) and every 30 s after.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Final

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, now_ist, trading_day
from core.commands import build_command, publish_command
from core.db.enums import OrderAction
from core.db.models import Strategy
from core.repos import orders as orders_repo
from pipeline.executor.errors import Busy
from pipeline.executor.handler import CommandHandler
from pipeline.executor.locks import OrderLocks

log = logging.getLogger("algo.pipeline.executor")

CONCURRENCY: Final = 8
UNANNOUNCED_AFTER_S: Final = 10.0
SELL_MARGIN: Final = timedelta(minutes=3)


class Reconciler:
    """Settles open orders, repeats lost announcements and closes orphaned positions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], js: JetStreamContext,
                 clock: Clock, locks: OrderLocks, handler: CommandHandler) -> None:
        self._sessions = sessions
        self._js = js
        self._clock = clock
        self._locks = locks
        self._handler = handler
        self.adopted = 0
        """Orders this reconciler brought to a new status."""

    async def run(self, *, min_age_s: float = 0.0) -> int:
        """One full round; returns how many open orders changed status."""
        settled = await self.settle_open(min_age_s=min_age_s)
        await self.announce_missing()
        await self.square_off_orphans()
        return settled

    async def settle_open(self, *, min_age_s: float) -> int:
        """Settle every open order older than `min_age_s`, a few at a time."""
        async with self._sessions() as session:
            rows = await orders_repo.open_orders(session, trading_day(self._clock))
        cutoff = self._clock.now() - timedelta(seconds=min_age_s)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(order_id: str, strategy_id: str, action: str, status: str) -> int:
            async with gate:
                try:
                    async with self._locks.hold(strategy_id, action) as lease:
                        prepared = await self._handler.settle(order_id, lease, fresh=False)
                    await self._handler.announce(prepared.order, prepared.strategy)
                except Busy:
                    return 0  # its command is being worked on right now
                except Exception as exc:  # noqa: BLE001 — this order next round, the rest now
                    log.warning("reconciliation of %s failed: %s", order_id, exc)
                    return 0
                return int(prepared.order.status != status)

        changed = await asyncio.gather(*(
            one(o.id, o.strategy_id, o.action, o.status) for o in rows if o.created_at <= cutoff))
        self.adopted += sum(changed)
        return sum(changed)

    async def announce_missing(self) -> None:
        """Announce final orders whose announcement did not go out."""
        before = self._clock.now() - timedelta(seconds=UNANNOUNCED_AFTER_S)
        async with self._sessions() as session:
            rows = await orders_repo.unannounced(session, before, trading_day(self._clock))
            pairs = [(order, await session.get(Strategy, order.strategy_id)) for order in rows]
        for order, strategy in pairs:
            if strategy is None:
                continue
            try:
                await self._handler.announce(order, strategy)
            except Exception as exc:  # noqa: BLE001 — next round
                log.warning("announcement of %s failed again: %s", order.id, exc)

    async def square_off_orphans(self) -> None:
        """Queue a SQUARE_OFF for every position nothing else will close today."""
        now = now_ist(self._clock)
        # A running strategy's own SELL gets its chance first (its trigger may be a little
        # late, its order a little slow); only then is the position an orphan.
        overdue = (now - SELL_MARGIN).time() if (now - SELL_MARGIN).date() == now.date() \
            else now.time().replace(hour=0, minute=0, second=0, microsecond=0)
        async with self._sessions() as session:
            orphans = await orders_repo.unprotected_positions(session, now.date(), overdue)
        for strategy in orphans:
            try:
                fresh = await publish_command(self._js, build_command(
                    self._clock.now(), user_id=strategy.user_id, strategy_id=strategy.id,
                    trading_day=now.date().isoformat(), action=OrderAction.SQUARE_OFF,
                    reason="square_off", rev=strategy.rev))
            except Exception as exc:  # noqa: BLE001 — next round
                log.warning("square-off of %s could not be queued: %s", strategy.id, exc)
                continue
            if fresh:
                log.warning("open position without an exit: square-off queued",
                            extra={"strategy_id": strategy.id, "status": strategy.status})
