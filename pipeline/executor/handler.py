"""One order command, start to end: the order path of DESIGN §4.

    1 validate ─ 2 persist the intent ─ 3 lock ─ 4 halt + rate limit ─ 5 send, classify
    ─ 6 commit, then runtime copy, events and follow-ups ─ (the consumer acks)

Every step is safe to repeat: a redelivered command finds its order row and continues
from the row's state; an order already final only has its announcement repeated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import OrderRequest, Side
from brokers.errors import BrokerError
from brokers.factory import BrokerFactory
from core.clock import Clock, trading_day
from core.commands import publish_command
from core.db.enums import BrokerType, OrderAction, OrderStatus
from core.db.models import BrokerCredential, Order, Strategy
from core.events import EventPublisher
from core.halts import HaltStore
from core.ids import new_id
from core.market import MarketHours
from core.messages import OrderCommand
from core.repos import orders as orders_repo
from core.risk import enforce_daily_loss
from core.strategies.runtime import RuntimeStore
from core.trace import current_trace_id
from pipeline.executor import ledger
from pipeline.executor.errors import ForeignCommand, Halted, LookupFailed
from pipeline.executor.locks import OrderLocks
from pipeline.executor.outcome import Attempt, Outcome
from pipeline.executor.placement import Keepalive, Placer
from pipeline.executor.rules import EXITS, Situation, side_of, skip_reason

log = logging.getLogger("algo.pipeline.executor")


@dataclass(slots=True)
class Prepared:
    """An order row and its strategy, as one step left them."""

    order: Order
    strategy: Strategy
    fresh: bool
    """True when this delivery created the intent, so nothing can have reached a broker."""


@dataclass(frozen=True, slots=True)
class _Route:
    broker_type: str
    credential_id: str | None


class CommandHandler:
    """Turns one command into at most one broker order."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], js: JetStreamContext,
                 clock: Clock, brokers: BrokerFactory, placer: Placer, locks: OrderLocks,
                 market: MarketHours, runtime: RuntimeStore, events: EventPublisher,
                 halts: HaltStore) -> None:
        self._sessions = sessions
        self._js = js
        self._clock = clock
        self._brokers = brokers
        self._placer = placer
        self._locks = locks
        self._market = market
        self._runtime = runtime
        self._events = events
        self._halts = halts
        self.sent = 0
        """Orders this handler sent to a broker (a send attempt counts once)."""

    async def handle(self, command: OrderCommand, keepalive: Keepalive) -> Order:
        """Execute `command` (or finish an earlier delivery of it); returns its order row."""
        await self._market.refresh()
        prepared = await self._prepare(command)
        if not orders_repo.is_final(prepared.order.status):
            async with self._locks.hold(command.strategy_id, command.action):
                prepared = await self._settle(prepared, keepalive)
        await self.announce(prepared.order, prepared.strategy)
        return prepared.order

    async def _prepare(self, command: OrderCommand) -> Prepared:
        """Steps 1-2 in one transaction with the strategy row locked, so two commands of
        one strategy (a SELL and an SL exit) are judged one after the other."""
        day = date.fromisoformat(command.trading_day)
        action = OrderAction(command.action)
        async with self._sessions() as session, session.begin():
            strategy = await orders_repo.strategy_for_execution(
                session, command.user_id, command.strategy_id)
            if strategy is None:
                raise ForeignCommand(f"{command.user_id}/{command.strategy_id}")
            existing = await orders_repo.get_intent(session, strategy.id, day, action.value)
            if existing is not None:
                return Prepared(existing, strategy, fresh=False)
            route = await self._route(session, strategy)
            now = self._clock.now()
            paper = route.broker_type == BrokerType.PAPER.value
            reason = skip_reason(strategy, Situation(
                action=action, command_day=day, today=trading_day(self._clock),
                market_open=self._market.is_open(day, now, paper=paper),
                live_exit=(await orders_repo.live_exit(session, strategy.id, day)
                           if action in EXITS else None),
                paper_only=strategy.is_simulated, broker_type=route.broker_type))
            order_id = new_id("ord")
            client_tag = order_id
            if reason is None:
                try:
                    broker = await self._brokers.for_account(
                        user_id=strategy.user_id, broker_type=route.broker_type,
                        credential_id=route.credential_id)
                    client_tag = broker.tag_for(order_id)
                except BrokerError as exc:
                    reason = f"broker unavailable: {exc.message}"
            order = Order(
                id=order_id, user_id=strategy.user_id, strategy_id=strategy.id,
                trading_day=day, action=action.value, side=side_of(action),
                exchange=strategy.exchange, symbol=strategy.symbol,
                quantity=strategy.quantity, broker_type=route.broker_type,
                broker_credential_id=route.credential_id, is_simulated=strategy.is_simulated,
                client_tag=client_tag,
                status=OrderStatus.PENDING.value, attempts=0, filled_quantity=0,
                trace_id=current_trace_id(), created_at=now, updated_at=now)
            session.add(order)
            if reason is not None:
                await ledger.record(session, order, strategy, Outcome(
                    OrderStatus.SKIPPED, reason=reason,
                    attempts=[Attempt("validate", "skipped", error=reason)]), now)
            await session.flush()
            return Prepared(order, strategy, fresh=True)

    async def _route(self, session: AsyncSession, strategy: Strategy) -> _Route:
        if strategy.broker_credential_id is None:
            return _Route(BrokerType.PAPER.value, None)
        credential = await session.get(BrokerCredential, strategy.broker_credential_id)
        broker_type = credential.broker_type if credential else "unknown"
        return _Route(broker_type, strategy.broker_credential_id)

    async def _settle(self, prepared: Prepared, keepalive: Keepalive) -> Prepared:
        """Steps 3-6 under the order lock."""
        async with self._sessions() as session:
            order = await orders_repo.get(session, prepared.order.id)
        assert order is not None
        if orders_repo.is_final(order.status):
            return Prepared(order, prepared.strategy, fresh=False)
        # A simulated strategy reaches the paper broker only, whatever its row says.
        if order.is_simulated and order.broker_type != BrokerType.PAPER.value:
            return await self.commit(order, Outcome(
                OrderStatus.SKIPPED, reason="a simulated strategy trades on paper only"))
        broker = await self._brokers.for_account(user_id=order.user_id,
                                                 broker_type=order.broker_type,
                                                 credential_id=order.broker_credential_id)
        try:
            outcome = await self._placer.settle(
                broker, self._request(order), user_id=order.user_id,
                fresh=prepared.fresh and order.attempts == 0,
                broker_order_id=order.broker_order_id, keepalive=keepalive)
        except Halted as exc:
            outcome = Outcome(OrderStatus.SKIPPED, reason=f"trading halted: {exc}",
                              attempts=[Attempt("place", "halted", error=str(exc))])
        except LookupFailed as exc:
            await self.commit(order, Outcome(
                OrderStatus.UNKNOWN, reason=f"broker lookup failed: {exc}",
                attempts=[Attempt("lookup", "unavailable", error=str(exc))]))
            raise
        self.sent += outcome.sends
        return await self.commit(order, outcome)

    @staticmethod
    def _request(order: Order) -> OrderRequest:
        return OrderRequest(client_tag=order.client_tag, exchange=order.exchange,
                            symbol=order.symbol, side=Side(order.side), quantity=order.quantity)

    async def commit(self, order: Order, outcome: Outcome) -> Prepared:
        """Step 6: record `outcome` on the order and its strategy in one transaction."""
        async with self._sessions() as session, session.begin():
            strategy = await orders_repo.strategy_for_execution(session, order.user_id,
                                                                order.strategy_id)
            row = await orders_repo.get(session, order.id, for_update=True)
            assert row is not None
            assert strategy is not None
            await ledger.record(session, row, strategy, outcome, self._clock.now())
        return Prepared(row, strategy, fresh=False)

    async def announce(self, order: Order, strategy: Strategy) -> None:
        """Runtime copy, events and follow-up commands of committed rows (repeatable)."""
        news = ledger.announcement(order, strategy, self._events, self._clock.now())
        if news.runtime is not None:
            await self._runtime.put(news.runtime)
        elif news.drop is not None:
            await self._runtime.drop(*news.drop)
        for event in news.events:
            await self._events.publish(event)
        for command in news.commands:
            await publish_command(self._js, command)
        if order.side == "SELL" and order.status == OrderStatus.FILLED.value \
                and not order.is_simulated:
            await self._check_daily_loss(order)

    async def _check_daily_loss(self, order: Order) -> None:
        # The exit is committed and announced; a failure here must not undo or repeat it,
        # but a missed trip would let the next BUY through: try a few times, then shout.
        for delay in (0.2, 1.0, 0.0):
            try:
                async with self._sessions() as session:
                    if await enforce_daily_loss(session, self._halts, order.user_id,
                                                order.trading_day):
                        log.warning("max daily loss reached; user halted",
                                    extra={"user_id": order.user_id})
                return
            except Exception as exc:
                if not delay:
                    log.error("daily loss check failed: %s", exc, exc_info=exc,
                              extra={"user_id": order.user_id})
                    return
                await self._clock.sleep(delay)
