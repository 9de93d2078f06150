"""Telling the user a BUY is held because the broker is not ready (BRK-10): once per
strategy and day, whichever replica held it first (SADD on the day's held set decides), and
not at all if a replica already fired it or decided it (decision.py). The reason is kept
in the day's held-reasons hash, for a restarted replica's missed report.

The ERROR event (`kind: buy_held`) and a notification say why and what "held" means: no
order is sent; the BUY is re-checked every few seconds and fires as soon as the broker is
ready within the grace period, and is reported missed (a second ERROR) if it never is.
"""

from __future__ import annotations

import logging
from typing import Final

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys
from core.clock import IST, Clock
from core.events import EventPublisher, EventType
from core.repos import notifications
from core.trace import new_trace_id, set_trace_id
from pipeline.retry import retry_forever
from pipeline.trigger.firing import FIRED_TTL_S
from pipeline.trigger.plan import member
from pipeline.trigger.schedule import Entry

KIND: Final = "buy_held"


class HeldReporter:
    """Turns the first hold of a BUY into one ERROR event and one notification."""

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

    async def report(self, entry: Entry, reason: str) -> None:
        """Announce that `entry` is held for `reason`, unless it already was today."""
        set_trace_id(new_trace_id())
        if not await retry_forever(lambda: self._claim(entry, reason), clock=self._clock,
                                   log=self._log, what="claiming a held BUY"):
            return  # announced already, or another replica fired (or decided) it
        record = entry.record
        body = (f"The BUY of {record.quantity} {record.exchange}:{record.symbol} due at "
                f"{entry.at.astimezone(IST):%H:%M:%S} IST is held: {reason}. No order has "
                f"been sent. It fires as soon as the broker is ready, until "
                f"{self._grace_s:.0f} s after its time; after that it is reported missed.")
        event = self._events.build(EventType.ERROR, user_id=record.user_id,
                                   strategy_id=record.strategy_id, rev=record.rev, data={
                                       "kind": KIND, "action": entry.action.value,
                                       "trading_day": entry.day.isoformat(),
                                       "scheduled_at": entry.at.isoformat(),
                                       "broker_credential_id": record.broker,
                                       "reason": reason, "message": body})
        await retry_forever(lambda: self._events.publish(event), clock=self._clock,
                            log=self._log, what="publishing a held-BUY event")
        title = f"BUY held — {record.exchange}:{record.symbol}"

        async def notify() -> None:
            async with self._sessions() as session, session.begin():
                await notifications.add_for_event(
                    session, event_id=event.id, user_id=record.user_id, type=KIND, title=title,
                    body=body, data={"strategy_id": record.strategy_id, "reason": reason,
                                     "trading_day": entry.day.isoformat()})

        await retry_forever(notify, clock=self._clock, log=self._log,
                            what="adding a held-BUY notification")
        self.reported += 1
        self._log.warning("BUY held: broker not ready", extra={
            "strategy_id": record.strategy_id, "broker_credential_id": record.broker,
            "reason": reason})

    async def _claim(self, entry: Entry, reason: str) -> bool:
        day = entry.day.isoformat()
        name = member(entry)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(redis_keys.trigger_held(day), name)
            pipe.expire(redis_keys.trigger_held(day), FIRED_TTL_S)
            pipe.hsetnx(redis_keys.trigger_held_reasons(day), name, reason)
            pipe.expire(redis_keys.trigger_held_reasons(day), FIRED_TTL_S)
            pipe.sismember(redis_keys.trigger_fired(day), name)
            pipe.hget(redis_keys.trigger_decided(day), name)
            added, _, _, _, fired, decided = await pipe.execute()
        return bool(added) and not fired and decided is None
