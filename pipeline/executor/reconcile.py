"""Reconciliation (DESIGN §4): orders whose fate is unsettled are looked up at the broker.

It runs before the executor takes new commands and then periodically. It never sends an
order: an order found at the broker is adopted (its fill committed and announced); one
proven absent is left to its command's redelivery while the market is open, and failed
once its trading day is over.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.factory import BrokerFactory
from core.clock import Clock, trading_day
from core.db.enums import BrokerType, OrderStatus
from core.db.models import Order
from core.market import MarketHours
from core.repos import orders as orders_repo
from pipeline.executor.errors import Busy
from pipeline.executor.handler import CommandHandler
from pipeline.executor.locks import OrderLocks
from pipeline.executor.outcome import Attempt, Outcome
from pipeline.executor.placement import Placer

log = logging.getLogger("algo.pipeline.executor")


class Reconciler:
    """Settles open orders against their brokers."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 brokers: BrokerFactory, placer: Placer, locks: OrderLocks,
                 market: MarketHours, handler: CommandHandler) -> None:
        self._sessions = sessions
        self._clock = clock
        self._brokers = brokers
        self._placer = placer
        self._locks = locks
        self._market = market
        self._handler = handler
        self.adopted = 0

    async def run(self, *, min_age_s: float = 0.0) -> int:
        """Look at every open order older than `min_age_s`; returns how many were settled."""
        await self._market.refresh()
        async with self._sessions() as session:
            rows = await orders_repo.open_orders(session)
        cutoff = self._clock.now() - timedelta(seconds=min_age_s)
        settled = 0
        for order in rows:
            if order.created_at > cutoff:
                continue
            try:
                async with self._locks.hold(order.strategy_id, order.action):
                    settled += await self._one(order.id)
            except Busy:
                continue  # its command is being worked on right now
            except Exception as exc:  # noqa: BLE001 — LookupFailed or worse: next round
                log.warning("reconciliation of %s failed: %s", order.id, exc)
        return settled

    async def _one(self, order_id: str) -> int:
        async with self._sessions() as session:
            order = await orders_repo.get(session, order_id)
        if order is None or orders_repo.is_final(order.status):
            return 0
        if order.is_simulated and order.broker_type != BrokerType.PAPER.value:
            return 0  # never sent: the executor refuses such orders before any broker call
        broker = await self._brokers.for_account(
            user_id=order.user_id, broker_type=order.broker_type,
            credential_id=order.broker_credential_id)
        outcome = await self._placer.resolve(broker, order.client_tag, order.broker_order_id)
        if outcome is None:
            return await self._absent(order)
        if outcome.status is OrderStatus(order.status) is OrderStatus.ACCEPTED:
            return 0
        outcome.reason = outcome.reason or "adopted by reconciliation"
        self.adopted += 1
        prepared = await self._handler.commit(order, outcome)
        await self._handler.announce(prepared.order, prepared.strategy)
        return 1

    async def _absent(self, order: Order) -> int:
        day = order.trading_day
        now = self._clock.now()
        day_over = day < trading_day(self._clock) or not self._market.is_open(
            day, now, paper=order.broker_type == BrokerType.PAPER.value)
        if not day_over:
            return 0
        prepared = await self._handler.commit(order, Outcome(
            OrderStatus.FAILED, reason="never reached the broker",
            attempts=[Attempt("lookup", "absent", {"client_tag": order.client_tag})]))
        await self._handler.announce(prepared.order, prepared.strategy)
        return 1
