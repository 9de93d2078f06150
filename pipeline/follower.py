"""Following chosen event types on EVENTS, in order and with no gap (trigger, feed, slwatch).

An ordered push consumer (deliver policy "new") is created before the caller takes its
Redis snapshot; events arriving meanwhile wait in a queue and are handed over, in stream
order, once `run` starts. The ordered consumer itself detects a sequence gap or a lost
consumer and resumes from the last stream sequence it delivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from core import subjects
from core.events import EventType
from core.messages import Event, decoder

STRATEGY_LIFECYCLE: Final = (EventType.STRATEGY_STARTED, EventType.STRATEGY_UPDATED,
                             EventType.STRATEGY_STOPPED)
BATCH: Final = 1000
"""Most events handed over at once (a bulk start publishes one event per strategy)."""

Handler = Callable[[list[Event]], Awaitable[None]]


class EventFollower:
    """Buffers events of the followed types until `run` consumes them."""

    def __init__(self, js: JetStreamContext, log: logging.Logger,
                 types: Sequence[EventType] = STRATEGY_LIFECYCLE) -> None:
        self._js = js
        self._log = log
        self._types = tuple(types)
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._decode = decoder(Event)
        self._sub: JetStreamContext.PushSubscription | None = None

    async def subscribe(self) -> None:
        """Start receiving every followed event published from now on."""
        self._sub = await self._js.subscribe(
            subjects.EVENTS_ALL, stream=subjects.EVENTS, cb=self._on_msg,
            ordered_consumer=True, deliver_policy=DeliverPolicy.NEW,
            config=ConsumerConfig(filter_subjects=[subjects.events_of_type(t)
                                                   for t in self._types]))

    async def run(self, handle: Handler) -> None:
        """Hand the buffered and every later event to `handle`, in order, in batches."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await handle(batch)

    async def close(self) -> None:
        """Stop receiving (the server removes the ephemeral consumer)."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        try:
            event = self._decode.decode(msg.data)
        except msgspec.DecodeError:
            self._log.error("undecodable event skipped", extra={"subject": msg.subject})
            return
        self._queue.put_nowait(event)
