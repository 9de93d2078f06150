"""The notifier role: events → notifications, exactly once per event and user (LIVE-4)."""

from __future__ import annotations

from typing import Any

from core.analytics.cache import AnalyticsCache
from core.events import EventPublisher
from pipeline.context import ServiceContext
from pipeline.follower import EventFollower
from pipeline.notifier.analytics import FILLS, AnalyticsUpkeep
from pipeline.notifier.consumer import EventConsumer
from pipeline.notifier.delivery import Deliverer
from pipeline.notifier.senders import Senders, build_senders
from pipeline.service import Service


class NotifierService(Service):
    """Turns events into per-user notifications and delivers them live, by mail and push."""

    role = "notifier"
    description = "events.> to notifications"

    def __init__(self, ctx: ServiceContext, senders: Senders | None = None) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.deliverer = Deliverer(ctx.sessions, EventPublisher(ctx.js, ctx.clock),
                                   senders or build_senders(s), ctx.clock)
        self.consumer = EventConsumer(ctx.js, self.deliverer.handle, batch=s.notifier_batch,
                                      ack_wait_s=s.notifier_ack_wait_s,
                                      max_deliver=s.notifier_max_deliver)
        self.analytics = AnalyticsUpkeep(
            EventFollower(ctx.js, self.log, FILLS), ctx.sessions,
            AnalyticsCache(ctx.redis, ctx.clock, s.analytics_cache_ttl_s), ctx.clock, self.log,
            rollup_at=s.analytics_rollup_at, lookback_days=s.analytics_rollup_lookback_days)

    def counters(self) -> dict[str, Any]:
        """Events handled and given up, notifications created and delivered."""
        return {"handled": self.consumer.handled, "given_up": self.consumer.given_up,
                "created": self.deliverer.created, "delivered": self.deliverer.delivered,
                "analytics_invalidated": self.analytics.invalidated,
                "analytics_rolled_days": self.analytics.rolled_days}

    async def on_start(self) -> None:
        """Bind the durable consumer and start delivering; start the analytics upkeep."""
        await self.consumer.start()
        await self.analytics.start()

    async def on_stop(self) -> None:
        """Finish the event in hand; the rest is redelivered to the next notifier."""
        await self.analytics.stop()
        await self.consumer.stop()
