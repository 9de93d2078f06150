"""Reporting a trigger that came too late to trade: once, whichever replica saw it first.

The day's decision hash decides (decision.py): the replica whose HSETNX of `missed` lands
first reports, unless a replica decided to fire it before (a held BUY found ready, a late
fire) or the fired set already has it (an on-time fire, which records its decision only
after the ack). That replica publishes an ERROR event and writes the user's notification.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, NamedTuple

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
from pipeline.trigger import decision
from pipeline.trigger.firing import FIRED_TTL_S
from pipeline.trigger.plan import member
from pipeline.trigger.schedule import Entry, Key

KIND: Final = "trigger_missed"
SELL_CAME: Final = "its SELL time had come (a BUY is never sent after its SELL)"
RESCHEDULED: Final = ("its time was then changed to one already past (or the strategy "
                      "restarted)")
STOPPED: Final = "the strategy was then stopped"


class Why(NamedTuple):
    """Why an entry is missed: the readiness gate's reason if it held it, and what ended it
    if not the grace period (None: the grace period)."""

    held_because: str | None = None
    ended: str | None = None


def describe(entry: Entry, late_s: float, grace_s: float,
             held_because: str | None = None, ended: str | None = None) -> tuple[str, str]:
    """The notification's title and body."""
    record = entry.record
    action = entry.action.value
    if held_because and ended:
        why = f"it was held because {held_because}, and {ended} before the broker was ready"
    elif held_because:
        why = (f"it was held because {held_because}, and the broker was still not ready "
               f"when the {grace_s:.0f} s grace period ended")
    elif ended:
        why = f"it was {late_s:.0f} s late and {ended}"
    else:
        why = f"it was {late_s:.0f} s late, past the {grace_s:.0f} s grace period"
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
                     why: Mapping[Key, Why] | None = None) -> None:
        """Report each entry unless another replica already has, or fired it; `why` names
        the entries the readiness gate held, or that something other than the grace period
        ended, and why."""
        for entry in entries:
            await self._report(entry, now, (why or {}).get(entry.key, Why()))

    async def _report(self, entry: Entry, now: datetime, why: Why) -> None:
        set_trace_id(new_trace_id())
        if not await retry_forever(lambda: self._claim(entry), clock=self._clock,
                                   log=self._log, what="claiming a missed trigger"):
            return  # reported by another replica, or fired
        held_because = why.held_because
        late_s = (now - entry.at).total_seconds()
        title, body = describe(entry, late_s, self._grace_s, held_because, why.ended)
        record = entry.record
        data: dict[str, Any] = {"kind": KIND, "action": entry.action.value,
                                "trading_day": entry.day.isoformat(),
                                "scheduled_at": entry.at.isoformat(),
                                "late_s": round(late_s, 3), "message": body}
        if held_because is not None:
            data["held_because"] = held_because
        if why.ended is not None:
            data["ended"] = why.ended
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

    async def _claim(self, entry: Entry) -> bool:
        """True if this replica decided the entry missed and nobody fired it."""
        [decided] = await decision.claim(self._redis, [entry], decision.MISSED)
        if not decided.ours:
            return False
        day = entry.day.isoformat()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sismember(redis_keys.trigger_fired(day), member(entry))
            pipe.sadd(redis_keys.trigger_missed(day), member(entry))
            pipe.expire(redis_keys.trigger_missed(day), FIRED_TTL_S)
            fired, _, _ = await pipe.execute()
        return not fired  # an on-time fire (it records its decision after the ack)

    async def _notify(self, event: Event, title: str, body: str) -> None:
        data: dict[str, Any] = {key: event.data[key] for key in
                                ("kind", "action", "trading_day", "scheduled_at")}
        data["strategy_id"] = event.strategy_id
        async with self._sessions() as session, session.begin():
            await notifications.add_for_event(session, event_id=event.id,
                                              user_id=event.user_id, type=KIND, title=title,
                                              body=body, data=data)
