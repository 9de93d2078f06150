"""One order command, start to end: the order path of DESIGN §4.

    1 validate ─ 2 persist the intent ─ 3 lock (a renewed lease) ─ 4 rate limit + halt
    ─ 5 send, classify ─ 6 commit, then runtime copy, events, follow-ups ─ (the consumer acks)

Every step is safe to repeat: a redelivered command finds its order row and continues
from the row's state; an order already final only has its announcement repeated. The
reconciler (reconcile.py) drives the same `settle` for orders whose command is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import OrderRequest, Side
from brokers.factory import BrokerFactory
from core.batch import Batcher
from core.clock import Clock
from core.commands import publish_command
from core.db.driver import Driver
from core.db.engine import autocommit
from core.db.enums import BrokerType, OrderStatus
from core.db.models import Order, Strategy
from core.events import EventPublisher
from core.halts import HaltStore
from core.market import MarketHours
from core.messages import OrderCommand
from core.repos import order_path
from core.repos import orders as orders_repo
from core.repos.order_path import Writes
from core.risk import SYSTEM, daily_loss_breach
from core.strategies.runtime import RuntimeStore
from pipeline.executor import ledger
from pipeline.executor.errors import LookupFailed
from pipeline.executor.intake import BATCH_SIZE, Intake, Prepared
from pipeline.executor.locks import Lease, OrderLocks
from pipeline.executor.outcome import Attempt, Outcome
from pipeline.executor.placement import Placer

log = logging.getLogger("algo.pipeline.executor")

ANNOUNCE_RETRY_S: Final = (0.5, 1.0, 2.0, 4.0)
"""Waits between tries of an announcement before it is left to the sweeper."""


class CommandHandler:
    """Turns one command into at most one broker order."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], js: JetStreamContext,
                 clock: Clock, brokers: BrokerFactory, placer: Placer, locks: OrderLocks,
                 market: MarketHours, runtime: RuntimeStore, events: EventPublisher,
                 halts: HaltStore) -> None:
        self._sessions = sessions
        self._driver = Driver.of(sessions)
        self._js = js
        self._clock = clock
        self._brokers = brokers
        self._placer = placer
        self._locks = locks
        self._market = market
        self._runtime = runtime
        self._events = events
        self._halts = halts
        self._intake = Intake(sessions, clock, brokers, market)
        # Group commit (core.batch): under load, many orders share each transaction.
        self._reload: Batcher[str, tuple[Order, Strategy]] = Batcher(
            self._reload_many, max_size=BATCH_SIZE)
        self._commits: Batcher[tuple[Order, Outcome], Prepared] = Batcher(
            self._commit_many, max_size=BATCH_SIZE)
        # Nobody waits on these marks: they gather for a moment, one UPDATE for many.
        self._announced: Batcher[str, None] = Batcher(self._mark_announced,
                                                      max_size=BATCH_SIZE * 4, linger_s=0.2)
        self.sent = 0
        """Orders this handler sent to a broker (a send attempt counts once)."""

    @property
    def intake_batches(self) -> tuple[int, int]:
        """(batches, commands) the intake has run: how commands were grouped."""
        return self._intake.batcher.batches, self._intake.batcher.items

    async def handle(self, command: OrderCommand) -> Order | None:
        """Execute `command` (or finish an earlier delivery of it); returns its order row,
        None when the command was moot."""
        await self._market.refresh()
        # The intent is persisted before the lock is taken: with Redis down the command
        # fails here, but its row is there for reconciliation to finish.
        prepared = await self._intake.prepare(command)
        if prepared is None:
            return None
        if not orders_repo.is_final(prepared.order.status):
            async with self._locks.hold(command.strategy_id, command.action) as lease:
                prepared = await self.settle(prepared.order.id, lease, fresh=prepared.fresh)
        await self._announce_or_leave(prepared)
        return prepared.order

    async def _announce_or_leave(self, prepared: Prepared) -> None:
        """Announce, retrying in place while NATS or Redis recovers (a stream electing a
        leader takes seconds); a final order whose announcement still fails is left to the
        sweeper, which repeats it, rather than burning the command's deliveries on it."""
        final = orders_repo.is_final(prepared.order.status)
        for delay in (*ANNOUNCE_RETRY_S, None):
            try:
                await self.announce(prepared.order, prepared.strategy)
                return
            except Exception as exc:
                if not final:
                    raise
                if delay is None:
                    log.warning("announcement left to the sweeper: %s", exc,
                                extra={"order_id": prepared.order.id})
                    return
            await asyncio.sleep(delay)  # real time: waiting for a server, not a schedule

    async def settle(self, order_id: str, lease: Lease, *, fresh: bool) -> Prepared:
        """Steps 4-6 for one order, with its lock held: send it, or find out what became
        of an earlier send, and commit the outcome."""
        # Read again under the lock: another worker may have settled it in the meantime.
        order, strategy = await self._reload.submit(order_id)
        if orders_repo.is_final(order.status):
            return Prepared(order, strategy, fresh=False)
        # A simulated strategy reaches the paper broker only, whatever its row says.
        if order.is_simulated and order.broker_type != BrokerType.PAPER.value:
            return await self.commit(order, Outcome(
                OrderStatus.SKIPPED, reason="a simulated strategy trades on paper only"))
        broker = await self._brokers.for_account(user_id=order.user_id,
                                                 broker_type=order.broker_type,
                                                 credential_id=order.broker_credential_id)
        may_send = self._market.is_open(
            order.trading_day, self._clock.now(),
            paper=order.broker_type == BrokerType.PAPER.value)
        try:
            outcome = await self._placer.settle(
                broker, _request(order), user_id=order.user_id,
                fresh=fresh and order.attempts == 0, broker_order_id=order.broker_order_id,
                lease=lease, may_send=may_send)
        except LookupFailed as exc:
            unknown = exc.outcome if isinstance(exc.outcome, Outcome) else Outcome(
                OrderStatus.UNKNOWN, attempts=[Attempt("lookup", "unavailable")])
            unknown.status = OrderStatus.UNKNOWN
            unknown.reason = f"broker lookup failed: {exc}"
            self.sent += unknown.sends
            await self.commit(order, unknown)
            raise
        self.sent += outcome.sends
        return await self.commit(order, outcome)

    async def commit(self, order: Order, outcome: Outcome) -> Prepared:
        """Step 6: record `outcome` on the order and its strategy in one transaction — unless
        the order was settled meanwhile (by a worker that took over): then nothing changes."""
        return await self._commits.submit((order, outcome))

    async def announce(self, order: Order, strategy: Strategy) -> None:
        """Runtime copy, events and follow-up commands of committed rows (repeatable); a
        final order is then marked announced (the sweeper repeats any that is not)."""
        news = ledger.announcement(order, strategy, self._events, self._clock.now())
        if news.runtime is not None:
            await self._runtime.put(news.runtime)
        elif news.drop is not None:
            await self._runtime.drop(*news.drop)
        for event in news.events:
            await self._events.publish(event)
        for command in news.commands:
            await publish_command(self._js, command)
        if not orders_repo.is_final(order.status):
            return
        # Marked in the background, many at a time: a mark lost in a crash only means the
        # sweeper announces the order again, which is harmless.
        self._announced.post(order.id, lambda exc: log.warning(
            "orders not marked announced: %s", exc))
        if order.side == "SELL" and order.filled_quantity > 0 and not order.is_simulated:
            await self._check_daily_loss(order)

    async def drain(self) -> None:
        """Let the announced-marks still gathering be written (at shutdown; a few seconds
        at most: a mark that is lost only means the sweeper announces again)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._announced.drain(), timeout=5.0)

    async def _reload_many(self, order_ids: list[str],
                           ) -> list[tuple[Order, Strategy] | BaseException]:
        async with self._driver.connection("reload") as conn:
            found = await order_path.with_strategies(conn, order_ids)
        return [found.get(order_id) or LookupError(f"order {order_id} vanished")
                for order_id in order_ids]

    async def _commit_many(self, items: list[tuple[Order, Outcome]],
                           ) -> list[Prepared | BaseException]:
        results: list[Prepared | BaseException] = []
        writes = Writes()
        async with self._driver.transaction("commit") as conn:
            locked = await order_path.with_strategies(
                conn, {order.id for order, _ in items}, lock=True)
            now = self._clock.now()  # once the locks are held
            for order, outcome in items:
                if order.id not in locked:
                    results.append(LookupError(f"order {order.id} vanished"))
                    continue
                row, strategy = locked[order.id]
                if not orders_repo.is_final(row.status):
                    ledger.record(writes, row, strategy, outcome, now)
                elif outcome.sends:
                    # Never expected: a second order may exist at the broker. Critical, so
                    # the admins are alerted (error log) to check it by hand.
                    log.critical("an order already settled was sent again",
                              extra={"order_id": row.id, "status": row.status})
                results.append(Prepared(row, strategy, fresh=False))
            await order_path.write(conn, writes)
        return results

    async def _mark_announced(self, order_ids: list[str]) -> list[None]:
        async with self._sessions() as session:
            await autocommit(session)
            await orders_repo.mark_announced(session, order_ids, self._clock.now())
        return [None] * len(order_ids)

    async def _check_daily_loss(self, order: Order) -> None:
        # The exit is committed and announced; a failure here must not undo or repeat it,
        # but a missed trip would let the next BUY through: try a few times, then shout.
        for delay in (0.2, 1.0, 0.0):
            try:
                async with self._sessions() as session:
                    breach = await daily_loss_breach(session, order.user_id,
                                                     order.trading_day)
                # Engaged with the read's connection given back: the halt takes its own.
                if breach is not None and await self._halts.engage_unless_engaged(
                        order.user_id, breach, set_by=None, actor=SYSTEM) is not None:
                    log.warning("max daily loss reached; user halted",
                                extra={"user_id": order.user_id})
                return
            except Exception as exc:
                if not delay:
                    log.error("daily loss check failed: %s", exc, exc_info=exc,
                              extra={"user_id": order.user_id})
                    return
                await self._clock.sleep(delay)


def _request(order: Order) -> OrderRequest:
    return OrderRequest(client_tag=order.client_tag, exchange=order.exchange,
                        symbol=order.symbol, side=Side(order.side), quantity=order.quantity)
