"""The notifier's durable pull consumer on EVENTS (the types in `rules.FOLLOWED`).

Events are handled one after another, each acknowledged with `ack_sync()` only once its
rows are committed and delivered; a failure is retried by redelivery with backoff, and an
event that fails `max_deliver` times is logged and given up (its rows, if any, stay).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core import subjects
from core.aio import cancel_and_wait
from core.messages import Event, decoder
from core.trace import TRACE_HEADER, clean_trace_id, new_trace_id, reset_trace_id, set_trace_id
from pipeline.notifier.rules import FOLLOWED

log = logging.getLogger("algo.pipeline.notifier")

DURABLE: Final = "notifier"
_decode = decoder(Event)

Handle = Callable[[Event], Awaitable[None]]


def consumer_config(*, ack_wait_s: float, max_deliver: int, batch: int) -> ConsumerConfig:
    """The notifier's durable consumer: every retained event of the followed types."""
    return ConsumerConfig(
        durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait_s, max_deliver=max_deliver, max_ack_pending=batch * 2,
        filter_subjects=[subjects.events_of_type(t) for t in FOLLOWED])


class EventConsumer:
    """Fetches events in batches and hands each to `handle`, in stream order."""

    def __init__(self, js: JetStreamContext, handle: Handle, *, batch: int, ack_wait_s: float,
                 max_deliver: int) -> None:
        self._js = js
        self._handle = handle
        self._batch = batch
        self._ack_wait_s = ack_wait_s
        self._max_deliver = max_deliver
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self.handled = 0
        self.given_up = 0

    async def start(self) -> None:
        """Create or update the durable consumer, bind it and start fetching."""
        await self._js.add_consumer(subjects.EVENTS, consumer_config(
            ack_wait_s=self._ack_wait_s, max_deliver=self._max_deliver, batch=self._batch))
        self._sub = await self._js.pull_subscribe_bind(DURABLE, stream=subjects.EVENTS)
        self._running = True
        self._task = asyncio.create_task(self._loop(), name="notifier-fetch")

    async def stop(self) -> None:
        """Stop after the event in hand (the rest of a batch is redelivered later)."""
        self._running = False
        if self._task is not None:
            await cancel_and_wait([self._task], timeout_s=5.0)
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    async def _loop(self) -> None:
        while self._running:
            try:
                messages = await self._sub.fetch(self._batch, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception as exc:  # noqa: BLE001 — NATS reconnecting: keep trying
                log.warning("fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for msg in messages:
                if not self._running:
                    break  # unacknowledged: redelivered after the ack wait
                await self._one(msg)

    async def _one(self, msg: Msg) -> None:
        token = set_trace_id(clean_trace_id((msg.headers or {}).get(TRACE_HEADER))
                             or new_trace_id())
        try:
            try:
                event = _decode.decode(msg.data)
            except msgspec.DecodeError:
                log.error("undecodable event skipped", extra={"subject": msg.subject})
                await msg.ack_sync()
                return
            await self._handle(event)
        except Exception as exc:  # noqa: BLE001 — retried by redelivery, then given up
            await self._retry(msg, exc)
        else:
            self.handled += 1
            await msg.ack_sync()
        finally:
            reset_trace_id(token)

    async def _retry(self, msg: Msg, exc: Exception) -> None:
        deliveries = msg.metadata.num_delivered
        if deliveries >= self._max_deliver:
            log.error("event given up after %s deliveries: %s", deliveries, exc, exc_info=exc,
                      extra={"subject": msg.subject})
            self.given_up += 1
            with contextlib.suppress(Exception):
                await msg.term()
            return
        log.warning("event failed (delivery %s), will retry: %s", deliveries, exc,
                    extra={"subject": msg.subject})
        with contextlib.suppress(Exception):
            await msg.nak(delay=float(min(2 ** deliveries, 30)))
