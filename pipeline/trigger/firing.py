"""Firing entries: publish their order commands concurrently, then mark them fired in Redis.

The command's `Nats-Msg-Id` is `{strategy}:{day}:{action}` (core.commands), so a second
publish of the same entry — another replica, a restart inside the grace period, a retry
after a lost ack — is dropped by the COMMANDS stream. The fired mark is written only after
the ack: a crash in between makes a restart publish again, which the stream drops.

An entry fired late or after being held is first claimed in the day's decision hash
(decision.py): if another replica already decided it missed, it is not published. An
on-time fire records its decision with the fired mark, after the ack.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import date
from typing import Final

from nats.js import JetStreamContext
from redis.asyncio import Redis

from core import redis_keys
from core.clock import Clock
from core.commands import build_command, publish_command
from core.trace import new_trace_id, set_trace_id
from pipeline.retry import retry_forever
from pipeline.trigger import decision
from pipeline.trigger.plan import member
from pipeline.trigger.schedule import Entry

REASON: Final = "schedule"
FIRED_TTL_S: Final = 3 * 24 * 3600
DEFAULT_CONCURRENCY: Final = 512
"""Publishes in flight at once: plenty for a burst of one instant, bounded in memory."""


class Firer:
    """Publishes commands for due entries; counts what the stream acknowledged."""

    def __init__(self, js: JetStreamContext, redis: Redis, clock: Clock, log: logging.Logger,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self._js = js
        self._redis = redis
        self._clock = clock
        self._log = log
        self._slots = asyncio.Semaphore(concurrency)
        self.fired = 0
        """Commands acknowledged by the stream (including ones it dropped as duplicates)."""

    async def fire(self, entries: list[Entry], *, claim: bool = False) -> None:
        """Publish every entry's command at once (bounded), then record them as fired;
        with `claim`, only the entries not already decided missed by another replica."""
        if claim:
            entries = await self._claimed(entries)
            if not entries:
                return
        await asyncio.gather(*(self._publish(entry) for entry in entries))
        by_day: dict[date, list[str]] = defaultdict(list)
        for entry in entries:
            by_day[entry.day].append(member(entry))
        await retry_forever(lambda: self._mark(by_day), clock=self._clock, log=self._log,
                            what="recording fired triggers")
        self._log.info("fired %d order command(s)", len(entries),
                       extra={"actions": sorted({e.action.value for e in entries})})

    async def _publish(self, entry: Entry) -> None:
        async with self._slots:
            # Each command starts its own trace (gather runs this in its own task/context).
            set_trace_id(new_trace_id())
            record = entry.record
            command = build_command(self._clock.now(), user_id=record.user_id,
                                    strategy_id=record.strategy_id,
                                    trading_day=entry.day.isoformat(), action=entry.action,
                                    reason=REASON, rev=record.rev)
            fresh = await retry_forever(lambda: publish_command(self._js, command),
                                        clock=self._clock, log=self._log,
                                        what="publishing an order command")
            self.fired += 1
            self._log.debug("order command published", extra={
                "strategy_id": record.strategy_id, "action": entry.action.value,
                "trading_day": command.trading_day, "duplicate": not fresh})

    async def _claimed(self, entries: list[Entry]) -> list[Entry]:
        decisions = await retry_forever(
            lambda: decision.claim(self._redis, entries, decision.FIRE), clock=self._clock,
            log=self._log, what="claiming late or held triggers")
        kept: list[Entry] = []
        for entry, decided in zip(entries, decisions, strict=True):
            if decided.outcome == decision.FIRE:  # ours or a replica's: publishing is idempotent
                kept.append(entry)
            else:
                self._log.info("not fired: another replica reported it missed", extra={
                    "strategy_id": entry.record.strategy_id, "action": entry.action.value})
        return kept

    async def _mark(self, by_day: dict[date, list[str]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for day, members in by_day.items():
                pipe.sadd(redis_keys.trigger_fired(day.isoformat()), *members)
                pipe.expire(redis_keys.trigger_fired(day.isoformat()), FIRED_TTL_S)
                decided = redis_keys.trigger_decided(day.isoformat())
                for name in members:
                    pipe.hsetnx(decided, name, decision.FIRE)
                pipe.expire(decided, decision.TTL_S)
            await pipe.execute()
