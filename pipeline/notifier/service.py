"""The notifier role: events → notifications, exactly once per event and user (LIVE-4)."""

from __future__ import annotations

from core.events import EventPublisher
from pipeline.context import ServiceContext
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

    async def on_start(self) -> None:
        """Bind the durable consumer and start delivering."""
        await self.consumer.start()

    async def on_stop(self) -> None:
        """Finish the event in hand; the rest is redelivered to the next notifier."""
        await self.consumer.stop()
