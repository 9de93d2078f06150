"""Breaches → exit commands, off the tick path.

`fire()` runs inside the tick callback and does no I/O: it picks each exit's action and
marks it in flight, then hands the publishing to one background task per tick, so the next
tick is checked at once. That task publishes every breach's command concurrently and awaits
each ack (the command is then stored in COMMANDS, whatever happens to this process), retrying
with backoff for as long as NATS is down, then announces SL_TRIGGERED.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from nats.js import JetStreamContext

from core.aio import cancel_and_wait
from core.clock import Clock, trading_day
from core.commands import build_command, publish_command
from core.db.enums import OrderAction
from core.events import EventPublisher, EventType
from core.messages import Tick
from core.strategies.runtime import StrategyRuntime
from core.trace import set_trace_id
from pipeline.slwatch.exits import ExitLedger, reason_for
from pipeline.slwatch.index import Breach
from pipeline.slwatch.metrics import Metrics

FIRST_DELAY_S: Final = 0.05
MAX_DELAY_S: Final = 0.5
ANNOUNCE_WITHIN_S: Final = 20.0
"""How long an SL_TRIGGERED event is retried: past a JetStream election (4-9 s)."""
DEFAULT_CONCURRENCY: Final = 512
_LOUD_EVERY: Final = 20


@dataclass(frozen=True, slots=True)
class _Job:
    breach: Breach[StrategyRuntime]
    day: str
    action: OrderAction


class Firer:
    """Publishes exit commands and SL_TRIGGERED events; tracks its background tasks."""

    def __init__(self, js: JetStreamContext, clock: Clock, log: logging.Logger,
                 ledger: ExitLedger, metrics: Metrics,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self._js = js
        self._clock = clock
        self._log = log
        self._ledger = ledger
        self._metrics = metrics
        self._events = EventPublisher(js, clock)
        self._slots = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task[None]] = set()

    def fire(self, breaches: Sequence[Breach[StrategyRuntime]], tick: Tick,
             trace_id: str) -> None:
        """Choose each exit's action now; publish in the background."""
        day = trading_day(self._clock).isoformat()
        jobs: list[_Job] = []
        for breach in breaches:
            action = self._ledger.choose(breach.strategy_id, day, breach.kind)
            if action is None:
                self._no_action_left(breach, day)
                continue
            self._ledger.begin(breach.strategy_id, day, action)
            jobs.append(_Job(breach, day, action))
        if jobs:
            task = asyncio.create_task(self._run(jobs, tick, trace_id), name="slwatch-exit")
            self.tasks.add(task)
            task.add_done_callback(self._done)

    async def drain(self, timeout: float) -> None:
        """Let in-flight publishes finish for up to `timeout` seconds, then cancel them."""
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=timeout)
        await cancel_and_wait(pending)

    # ---- the background part -----------------------------------------------------------

    async def _run(self, jobs: list[_Job], tick: Tick, trace_id: str) -> None:
        set_trace_id(trace_id)  # this task's own context: the tick's trace
        if len(jobs) == 1:
            await self._exit(jobs[0], tick)
        else:
            await asyncio.gather(*(self._exit(job, tick) for job in jobs))

    async def _exit(self, job: _Job, tick: Tick) -> None:
        async with self._slots:
            action = await self._publish(job, tick)
            if action is None:
                return
            since = tick.received_ts or tick.exchange_ts
            if since > 0:
                self._metrics.latency_ns.add(max(0, time.time_ns() - since))
        await self._announce(job, action, tick)

    async def _publish(self, job: _Job, tick: Tick) -> OrderAction | None:
        """Publish until acknowledged; an intent the stream already had (on a first try)
        means that action was used today, so the next one of the ladder is published."""
        breach = job.breach
        record = breach.ref
        action = job.action
        failed = 0
        delay = FIRST_DELAY_S
        while True:
            command = build_command(
                self._clock.now(), user_id=record.user_id, strategy_id=record.strategy_id,
                trading_day=job.day, action=action, reason=reason_for(breach.kind, action),
                rev=record.rev, trigger_price_paise=tick.ltp_paise)
            try:
                fresh = await publish_command(self._js, command)
            except Exception as exc:  # noqa: BLE001 — whatever NATS does, never drop an exit
                failed += 1
                self._metrics.publish_failures += 1
                level = logging.ERROR if failed % _LOUD_EVERY == 1 else logging.DEBUG
                self._log.log(level, "exit command publish failed (attempt %d), retrying: %s",
                              failed, exc, extra={"strategy_id": record.strategy_id,
                                                  "action": action.value})
                await self._clock.sleep(delay)
                delay = min(delay * 2, MAX_DELAY_S)
                continue
            self._metrics.commands += 1
            # After a failed attempt a duplicate is most likely that attempt, stored.
            if fresh or failed:
                self._log.info("exit command published", extra={
                    "strategy_id": record.strategy_id, "action": action.value,
                    "kind": breach.kind, "ltp_paise": tick.ltp_paise,
                    "level_paise": breach.level_paise})
                return action
            self._metrics.duplicates += 1
            self._ledger.mark_used(record.strategy_id, job.day, action)
            following = self._ledger.choose(record.strategy_id, job.day, breach.kind)
            self._log.warning("exit %s already issued today; trying %s", action.value,
                              following.value if following else "nothing",
                              extra={"strategy_id": record.strategy_id})
            if following is None:
                self._no_action_left(breach, job.day)
                return None
            self._ledger.begin(record.strategy_id, job.day, following)
            action = following
            delay = FIRST_DELAY_S

    async def _announce(self, job: _Job, action: OrderAction, tick: Tick) -> None:
        """SL_TRIGGERED, retried through an outage (its event id makes a retry harmless);
        given up after ANNOUNCE_WITHIN_S: the command is stored, the event only informs."""
        breach = job.breach
        record = breach.ref
        event = self._events.build(
            EventType.SL_TRIGGERED, user_id=record.user_id, strategy_id=record.strategy_id,
            rev=record.rev, data={
                "kind": breach.kind, "action": action.value,
                "reason": reason_for(breach.kind, action),
                "exchange": record.exchange, "symbol": record.symbol,
                "ltp_paise": breach.ltp_paise, "level_paise": breach.level_paise,
                "exchange_ts": tick.exchange_ts, "trading_day": job.day})
        delay = FIRST_DELAY_S
        give_up = self._clock.now() + timedelta(seconds=ANNOUNCE_WITHIN_S)
        while True:
            try:
                await self._events.publish(event)
                return
            except Exception:  # noqa: BLE001 — retried, then logged; never raised
                if self._clock.now() + timedelta(seconds=delay) > give_up:
                    self._log.exception("SL_TRIGGERED event not published",
                                        extra={"strategy_id": record.strategy_id})
                    return
            await self._clock.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)

    def _no_action_left(self, breach: Breach[StrategyRuntime], day: str) -> None:
        self._ledger.abandon(breach.strategy_id)
        self._log.error("stop-loss breached but every exit action of the day is used; the "
                        "position needs a manual exit", extra={
                            "strategy_id": breach.strategy_id, "trading_day": day,
                            "kind": breach.kind, "ltp_paise": breach.ltp_paise})

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("exit task failed", exc_info=task.exception())
