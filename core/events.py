"""Publishing events on `events.{user_id}.{strategy_id}.{type}` (DESIGN §3).

Every event has an `evt_` id that is also its `Nats-Msg-Id`, so publishing the same event
twice (a retry, a redelivered command) stores it once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from nats.js import JetStreamContext

from core import subjects
from core.clock import Clock
from core.ids import new_id
from core.messages import Event, encode
from core.trace import TRACE_HEADER, current_trace_id

SYSTEM_USER = "system"
"""The `user_id` of platform-wide events (admin alerts): `events.system.-.{TYPE}`."""


class EventType(StrEnum):
    """Every event type (one documented schema each in docs, as features add them)."""

    STRATEGY_STARTED = "STRATEGY_STARTED"
    STRATEGY_UPDATED = "STRATEGY_UPDATED"
    STRATEGY_STOPPED = "STRATEGY_STOPPED"
    ORDER_EXECUTED = "ORDER_EXECUTED"
    ORDER_REJECTED = "ORDER_REJECTED"
    SL_TRIGGERED = "SL_TRIGGERED"
    ERROR = "ERROR"
    NOTIFICATION = "NOTIFICATION"


class EventPublisher:
    """Builds and publishes events with de-duplication and the current trace id."""

    def __init__(self, js: JetStreamContext, clock: Clock) -> None:
        self._js = js
        self._clock = clock

    def build(self, event_type: EventType, *, user_id: str, strategy_id: str | None,
              rev: int = 0, data: dict[str, Any] | None = None,
              event_id: str | None = None) -> Event:
        """A new event (not yet published); `event_id` fixes its id for republishing."""
        return Event(id=event_id or new_id("evt"), type=event_type.value, user_id=user_id,
                     strategy_id=strategy_id, rev=rev,
                     ts=int(self._clock.now().timestamp() * 1e9), data=data or {})

    async def publish(self, event: Event) -> int:
        """Publish (idempotently by event id); returns the EVENTS stream sequence."""
        headers = {subjects.MSG_ID_HEADER: event.id}
        trace_id = current_trace_id()
        if trace_id:
            headers[TRACE_HEADER] = trace_id
        ack = await self._js.publish(
            subjects.event(event.user_id, event.strategy_id, event.type), encode(event),
            headers=headers)
        return int(ack.seq)
