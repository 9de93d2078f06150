"""The executor role: the only code that places broker orders (RUN-5…RUN-8)."""

from __future__ import annotations

import asyncio

from brokers.factory import BrokerFactory
from core.aio import cancel_and_wait
from core.events import EventPublisher
from core.halts import HaltStore
from core.market import MarketHours
from core.ratelimit import Rate, RateLimiter
from core.settings import parse_rate
from core.strategies.runtime import RuntimeStore
from pipeline.context import ServiceContext
from pipeline.executor.consumer import CommandConsumer
from pipeline.executor.dead_letters import DeadLetters
from pipeline.executor.handler import CommandHandler
from pipeline.executor.locks import OrderLocks
from pipeline.executor.placement import Placer
from pipeline.executor.reconcile import Reconciler
from pipeline.service import Service

RECONCILE_EVERY_S = 30.0
STARTUP_RECONCILE_S = 10.0


class ExecutorService(Service):
    """Turns each order command into at most one broker order."""

    role = "executor"
    description = "cmd.order.> to broker orders, exactly once"

    def __init__(self, ctx: ServiceContext, brokers: BrokerFactory | None = None) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.brokers = brokers or BrokerFactory(s, ctx.sessions, ctx.redis, ctx.clock)
        self.halts = HaltStore(ctx.sessions, ctx.redis)
        limit, window = parse_rate(s.broker_rate, "ALGO_BROKER_RATE")
        self.placer = Placer(ctx.clock, self.halts, RateLimiter(ctx.redis), Rate(limit, window),
                             fill_timeout_s=s.executor_fill_timeout_s)
        self.market = MarketHours(ctx.sessions, ctx.clock, paper_always_open=s.paper_always_open)
        locks = OrderLocks(ctx.redis, s.order_lock_ttl_s)
        events = EventPublisher(ctx.js, ctx.clock)
        self.handler = CommandHandler(ctx.sessions, ctx.js, ctx.clock, self.brokers, self.placer,
                                      locks, self.market, RuntimeStore(ctx.redis), events,
                                      self.halts)
        self.reconciler = Reconciler(ctx.sessions, ctx.js, ctx.clock, locks, self.handler)
        self.consumer = CommandConsumer(
            ctx.js, self.handler.handle, DeadLetters(ctx.js, events).park,
            concurrency=s.executor_concurrency, ack_wait_s=s.executor_ack_wait_s,
            max_deliver=s.executor_max_deliver)
        self._periodic: asyncio.Task[None] | None = None
        self._first: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        """Reconcile every unsettled order first (for up to STARTUP_RECONCILE_S; the rest
        goes on beside the consumer, the order locks keep them apart), then take commands."""
        await self.market.refresh(force=True)
        first = self._first = asyncio.create_task(self._first_round(), name="reconcile-start")
        await asyncio.wait([first], timeout=STARTUP_RECONCILE_S)
        await self.consumer.start()
        self._periodic = asyncio.create_task(self._reconcile_forever(first), name="reconcile")

    async def on_stop(self) -> None:
        """Finish in-flight commands (up to the shutdown timeout), then close brokers."""
        await cancel_and_wait([t for t in (self._periodic, self._first) if t is not None])
        await self.consumer.stop(self.ctx.settings.shutdown_timeout_s)
        await self.handler.drain()
        await self.brokers.close()

    async def _first_round(self) -> None:
        try:
            settled = await self.reconciler.run()
        except Exception as exc:  # noqa: BLE001 — the periodic rounds try again
            self.log.warning("start-up reconciliation failed: %s", exc)
            return
        if settled:
            self.log.warning("reconciled %s orders left unsettled by an earlier run", settled)

    async def _reconcile_forever(self, first: asyncio.Task[None]) -> None:
        await first
        min_age = self.ctx.settings.executor_ack_wait_s * self.ctx.settings.executor_max_deliver
        while True:
            await self.ctx.clock.sleep(RECONCILE_EVERY_S)
            try:
                await self.reconciler.run(min_age_s=min_age)
            except Exception as exc:  # noqa: BLE001 — try again next round
                self.log.warning("reconciliation round failed: %s", exc)


