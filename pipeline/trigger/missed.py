"""Reporting a trigger that came too late to trade: once, whichever replica saw it first.

The day's missed set decides who reports (SADD returns 1 to one replica only); that
replica publishes an ERROR event and writes the user's notification.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys
from core.clock import IST, Clock
from core.db.enums import OrderAction
from core.events import EventPublisher, EventType
from core.messages import Event
from core.repos import notifications
from core.trace import new_trace_id, set_trace_id
from pipeline.retry import retry_forever
from pipeline.trigger.firing import FIRED_TTL_S
from pipeline.trigger.plan import member
from pipeline.trigger.schedule import Entry, Key

KIND: Final = "trigger_missed"


def describe(entry: Entry, late_s: float, grace_s: float,
             held_because: str | None = None) -> tuple[str, str]:
    """The notification's title and body."""
    record = entry.record
    action = entry.action.value
    why = (f"it was held because {held_because}, and the broker was still not ready when "
           f"the {grace_s:.0f} s grace period ended" if held_because else
           f"it was {late_s:.0f} s late, past the {grace_s:.0f} s grace period")
    body = (f"The {action} of {record.quantity} {record.exchange}:{record.symbol} due at "
            f"{entry.at.astimezone(IST):%H:%M:%S} IST on {entry.day.isoformat()} was not sent: "
            f"{why}. No order was placed for it.")
    if entry.action is OrderAction.SELL:
        body += (" The position may still be open: exit it at your broker, or stop the "
                 "strategy to square it off.")
    return f"Missed {action} — {record.exchange}:{record.symbol}", body


class MissedReporter:
    """Turns a missed entry into one ERROR event and one notification."""

    def __init__(self, events: EventPublisher, redis: Redis,
                 sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 log: logging.Logger, grace_s: float) -> None:
        self._events = events
        self._redis = redis
        self._sessions = sessions
        self._clock = clock
        self._log = log
        self._grace_s = grace_s
        self.reported = 0
        """Missed entries this instance reported (another replica may have reported others)."""

    async def report(self, entries: list[Entry], now: datetime,
                     held_because: Mapping[Key, str] | None = None) -> None:
        """Report each entry unless another replica already has; `held_because` names the
        entries the readiness gate held until their grace ended, and why."""
        for entry in entries:
            await self._report(entry, now, (held_because or {}).get(entry.key))

    async def _report(self, entry: Entry, now: datetime, held_because: str | None) -> None:
        set_trace_id(new_trace_id())
        if held_because is not None and await retry_forever(
                lambda: self._fired(entry), clock=self._clock, log=self._log,
                what="reading the fired triggers"):
            return  # another replica found the broker ready and fired it
        if not await retry_forever(lambda: self._claim(entry), clock=self._clock,
                                   log=self._log, what="claiming a missed trigger"):
            return
        late_s = (now - entry.at).total_seconds()
        title, body = describe(entry, late_s, self._grace_s, held_because)
        record = entry.record
        data: dict[str, Any] = {"kind": KIND, "action": entry.action.value,
                                "trading_day": entry.day.isoformat(),
                                "scheduled_at": entry.at.isoformat(),
                                "late_s": round(late_s, 3), "message": body}
        if held_because is not None:
            data["held_because"] = held_because
        event = self._events.build(EventType.ERROR, user_id=record.user_id,
                                   strategy_id=record.strategy_id, rev=record.rev, data=data)
        await retry_forever(lambda: self._events.publish(event), clock=self._clock,
                            log=self._log, what="publishing a missed-trigger event")
        await retry_forever(lambda: self._notify(event, title, body), clock=self._clock,
                            log=self._log, what="adding a missed-trigger notification")
        self.reported += 1
        self._log.warning("trigger missed", extra={
            "strategy_id": record.strategy_id, "action": entry.action.value,
            "trading_day": entry.day.isoformat(), "late_s": round(late_s, 3)})

    async def _fired(self, entry: Entry) -> bool:
        return bool(await self._redis.sismember(redis_keys.trigger_fired(entry.day.isoformat()),
                                                member(entry)))

    async def _claim(self, entry: Entry) -> bool:
        key = redis_keys.trigger_missed(entry.day.isoformat())
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(key, member(entry))
            pipe.expire(key, FIRED_TTL_S)
            added, _ = await pipe.execute()
        return bool(added)

    async def _notify(self, event: Event, title: str, body: str) -> None:
        data: dict[str, Any] = {key: event.data[key] for key in
                                ("kind", "action", "trading_day", "scheduled_at")}
        data["strategy_id"] = event.strategy_id
        async with self._sessions() as session, session.begin():
            await notifications.add_for_event(session, event_id=event.id,
                                              user_id=event.user_id, type=KIND, title=title,
                                              body=body, data=data)
