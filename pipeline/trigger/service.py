"""The trigger role (RUN-1): every running strategy's BUY and SELL, each trading day, on time.

Start-up order is what makes it gap-free: follow the strategy events first, then take the
Redis snapshot, then apply the buffered and later events whose `rev` is newer. One
scheduler task sleeps until the earliest entry (or midnight) and is woken early whenever the
schedule changes. The scheduler's own changes are synchronous; the others (events, the day
roll-over, the start-up) await I/O and so take one lock, and never interleave.

A BUY on a real broker passes the readiness gate first (readiness.py, BRK-10): when the
broker is not ready the BUY is *held* — no command is published, the user gets one ERROR
event (held.py), and the entry stays owed, re-checked every refresh interval; it fires as
soon as the broker is ready within the grace period and before its SELL time, and is
reported missed (with the reason) when either ends. SELLs are never held: an exit always
goes out. A fire of an entry that is late or was held is claimed in Redis first, against
another replica's missed report (decision.py). The daily token check (tokens.py, BRK-9)
runs here too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, Final

from brokers.connectors import build_connectors
from core import redis_keys
from core.aio import Background, cancel_and_wait
from core.calendar import CalendarNotCovered, TradingCalendar
from core.clock import now_ist
from core.connections.health import HealthStore
from core.connections.probe import Prober
from core.connections.renewal import Renewer
from core.crypto import SecretBox
from core.db.enums import OrderAction, StrategyStatus
from core.events import EventPublisher, EventType
from core.messages import Event
from core.repos.calendar import load_calendar
from core.strategies.runtime import RuntimeStore, StrategyRuntime
from pipeline.context import ServiceContext
from pipeline.follower import EventFollower
from pipeline.retry import retry_forever
from pipeline.service import Service
from pipeline.trigger import plan
from pipeline.trigger.book import Book
from pipeline.trigger.firing import Firer
from pipeline.trigger.gate import Gate
from pipeline.trigger.held import HeldReporter
from pipeline.trigger.missed import RESCHEDULED, STOPPED, MissedReporter, Why
from pipeline.trigger.readiness import Readiness, needs_broker
from pipeline.trigger.refresh import RefreshLoop
from pipeline.trigger.schedule import Entry, Key
from pipeline.trigger.tokens import TokenWatch
from pipeline.trigger.wakeup import wait_until

MAX_SLEEP: Final = timedelta(seconds=60)
"""Re-read the wall clock at least this often (a long monotonic sleep drifts from it)."""
READ_CONCURRENCY: Final = 32
"""Redis reads in flight at once when a burst of events needs records re-read."""
HELD_TOLERANCE_S: Final = 1.0
"""A held BUY re-checked this much past its grace end (scheduler lag) may still fire;
later than that the process stalled, and it is missed."""
ON_TIME_S: Final = 1.0
"""A fire this close to its entry's time (never held) is published without a claim."""


class TriggerService(Service):
    """Fires order commands at each running strategy's buy and sell times."""

    role = "trigger"
    description = "schedule of running strategies to cmd.order.>"

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        self._book = Book(paper_always_open=ctx.settings.paper_always_open)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._store = RuntimeStore(ctx.redis)
        self._follower = EventFollower(ctx.js, self.log)
        self._firer = Firer(ctx.js, ctx.redis, ctx.clock, self.log)
        self._side_effects = Background(self.log, "trigger side effect")
        events = EventPublisher(ctx.js, ctx.clock)
        settings = ctx.settings
        self._reporter = MissedReporter(events, ctx.redis, ctx.sessions, ctx.clock, self.log,
                                        settings.trigger_grace_s)
        health = HealthStore(ctx.redis)
        box = SecretBox(settings.encryption_key_map)
        connectors = build_connectors(settings, ctx.clock)
        prober = Prober(ctx.sessions, box, connectors, health, ctx.clock,
                        timeout_s=settings.broker_check_timeout_s)
        self._readiness = Readiness(ctx.sessions, health, prober, ctx.clock, self.log,
                                    probe_lead_s=settings.trigger_probe_lead_s)
        self._gate = Gate(self._book, self._readiness,
                          HeldReporter(events, ctx.redis, ctx.sessions, ctx.clock, self.log,
                                       settings.trigger_grace_s),
                          self._side_effects.spawn, grace_s=settings.trigger_grace_s,
                          recheck_s=settings.trigger_readiness_refresh_s)
        self._refresher = RefreshLoop(
            self._book, self._readiness, ctx.clock, self.log,
            interval_s=settings.trigger_readiness_refresh_s,
            lead_s=settings.trigger_probe_lead_s,
            deadline_s=settings.trigger_readiness_refresh_s + settings.broker_check_timeout_s,
            on_held=self._wake.set)
        self._tokens = TokenWatch(ctx.sessions, events, ctx.clock, self.log,
                                  settings.token_check_at, self._market_open,
                                  renewer=Renewer(ctx.sessions, box, connectors, ctx.clock),
                                  feed_credential_id=settings.feed_broker_credential)
        self._calendar: TradingCalendar | None = None
        self._uncovered_logged: date | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.missed = 0
        """Entries found too late to fire (reported by this or another replica)."""

    # ---- read-only facts for health ---------------------------------------------------

    @property
    def fired(self) -> int:
        """Order commands this instance has had acknowledged."""
        return self._firer.fired

    @property
    def held(self) -> int:
        """Times a due BUY was held by the readiness gate (each re-check counts)."""
        return self._gate.held

    @property
    def strategies(self) -> int:
        """How many running strategies the trigger holds."""
        return self._book.held

    def next_fire_at(self) -> datetime | None:
        """When the next entry is due, None if nothing is scheduled today."""
        return self._book.schedule.next_at()

    def counters(self) -> dict[str, Any]:
        """Commands fired, BUYs held, entries missed, strategies held, and the next fire time
        (it goes out with every heartbeat: /health/scheduler reads it there)."""
        next_at = self.next_fire_at()
        return {"fired": self.fired, "held": self.held, "missed": self.missed,
                "strategies": self.strategies,
                "next_fire_at": next_at.isoformat() if next_at is not None else None}

    # ---- lifecycle ---------------------------------------------------------------------

    async def on_start(self) -> None:
        """Follow events, take the snapshot, begin today, then run the scheduler."""
        try:
            async with self.ctx.sessions() as session:
                self._calendar = await load_calendar(session)
            await self._follower.subscribe()  # before the snapshot: no change falls between
            async with self._lock:
                for record in await self._store.get_all_active_strategies():
                    self._book.hold(record)
                await self._begin_day(now_ist(self.ctx.clock).date())
            self._tasks = [
                asyncio.create_task(self._follower.run(self._on_events), name="trigger-events"),
                asyncio.create_task(self._run_schedule(), name="trigger-schedule"),
                asyncio.create_task(self._refresher.run(), name="trigger-readiness"),
                asyncio.create_task(self._forever(self._tokens.run, "token check"),
                                    name="trigger-tokens"),
            ]
        except BaseException:
            await self.on_stop()
            raise
        self.log.info("trigger started", extra={"strategies": self._book.held,
                                                "next_fire_at": str(self.next_fire_at())})

    async def on_stop(self) -> None:
        """Stop following and scheduling; give in-flight publishes a moment, then cancel."""
        with contextlib.suppress(Exception):
            await self._follower.close()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await self._readiness.close()
        # A publish cut short is safe: its entry is not marked fired, so a restart within
        # the grace period publishes it again and the stream drops the duplicate.
        await self._side_effects.drain(self.ctx.settings.shutdown_timeout_s)

    # ---- the scheduler -----------------------------------------------------------------

    async def _run_schedule(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception:
                self.log.exception("trigger scheduler step failed; retrying")
                await self.ctx.clock.sleep(1.0)

    async def _forever(self, work: Callable[[], Awaitable[None]], what: str) -> None:
        while True:
            try:
                await work()
            except Exception:
                self.log.exception("trigger %s failed; retrying", what)
                await self.ctx.clock.sleep(1.0)

    async def _tick(self) -> None:
        """One step: fire what is due, roll the day over at midnight, then wait."""
        self._wake.clear()  # before reading the schedule: a change from now on wakes us
        now = self.ctx.clock.now()
        due = self._book.schedule.pop_due(now)
        if due:
            self._dispatch(due, now)
        day_ends_at = self._book.day_ends_at
        assert day_ends_at is not None
        if now >= day_ends_at:
            async with self._lock:
                await self._begin_day(now_ist(self.ctx.clock).date())
            return
        target = min(day_ends_at, now + MAX_SLEEP)
        next_at = self._book.schedule.next_at()
        if next_at is not None:
            target = min(target, next_at)
        await wait_until(self.ctx.clock, target, self._wake)

    def _dispatch(self, due: list[Entry], now: datetime) -> None:
        """Fire due entries, or report those the process reached too late (it stalled)."""
        grace = self.ctx.settings.trigger_grace_s
        fire: list[Entry] = []
        late: list[Entry] = []
        why: dict[Key, Why] = {}
        held: set[Key] = set()
        for entry in due:
            if self._book.is_done(entry.key):
                continue
            held_because = self._book.held_reason(entry.key)
            self._book.mark_done(entry.key)
            slack = HELD_TOLERANCE_S if held_because is not None else 0.0
            if (now - entry.at).total_seconds() > grace + slack:
                late.append(entry)
                if held_because is not None:
                    why[entry.key] = Why(held_because)
            else:
                fire.append(entry)
                if held_because is not None:
                    held.add(entry.key)
        self._launch(fire, late, now, why, held)

    def _launch(self, fire: list[Entry], missed: list[Entry], now: datetime,
                why: dict[Key, Why] | None = None, held: set[Key] | None = None) -> None:
        """Gate and fire `fire` (claimed first if late or in `held`), report `missed`."""
        fire, held_missed, held_why = self._gate.split(fire, now)
        missed = missed + held_missed
        why = {**(why or {}), **held_why}
        on_time: list[Entry] = []
        claimed: list[Entry] = []
        for entry in fire:
            if (held and entry.key in held) \
                    or (now - entry.at).total_seconds() > ON_TIME_S:
                claimed.append(entry)
            else:
                on_time.append(entry)
        if on_time:
            self._side_effects.spawn(self._firer.fire(on_time))
        if claimed:
            self._side_effects.spawn(self._firer.fire(claimed, claim=True))
        if missed:
            self.missed += len(missed)
            self._side_effects.spawn(self._reporter.report(missed, now, why))

    # ---- days and events (always under the lock) -----------------------------------------

    async def _begin_day(self, day: date) -> None:
        """Rebuild the schedule of `day` for every held strategy."""
        if self._book.day is not None:  # a roll-over: pick up the admins' calendar changes
            try:
                async with self.ctx.sessions() as session:
                    self._calendar = await load_calendar(session)
            except Exception:
                self.log.exception("calendar reload failed; keeping the previous one")
        fired = await retry_forever(
            lambda: self.ctx.redis.smembers(redis_keys.trigger_fired(day.isoformat())),
            clock=self.ctx.clock, log=self.log, what="reading the fired triggers")
        past = self._book.begin_day(day, market_open=self._market_open(day),
                                    done=plan.keys_of(fired), now=self.ctx.clock.now())
        self._wake.set()
        try:  # the connections of the BUYs coming up, before the past ones are judged
            await self._refresher.refresh()
        except Exception:
            self.log.exception("readiness refresh failed; the refresh loop retries")
        await self._settle(past)

    def _market_open(self, day: date) -> bool:
        """Whether real-broker strategies trade on `day`; an uncovered year means no."""
        assert self._calendar is not None
        try:
            return self._calendar.is_trading_day(day)
        except CalendarNotCovered as exc:
            if self._uncovered_logged != day:
                self._uncovered_logged = day
                self.log.error("no triggers today: %s", exc, extra={"day": day.isoformat()})
            return False

    async def _on_events(self, events: list[Event]) -> None:
        try:
            async with self._lock:
                await self._apply(events)
        except Exception:
            # Only a bug gets here (outages are retried): keep following the later events.
            self.log.exception("strategy events could not be applied",
                               extra={"events": [e.id for e in events][:20]})

    async def _apply(self, events: list[Event]) -> None:
        """Apply the newest event of each strategy if it is newer than what is held."""
        latest: dict[str, Event] = {}
        for event in events:
            sid = event.strategy_id
            if sid and self._book.newer(sid, event.rev) \
                    and (sid not in latest or event.rev > latest[sid].rev):
                latest[sid] = event
        reread: list[Event] = []
        for sid, event in latest.items():
            if event.type == EventType.STRATEGY_STOPPED.value:
                self._book.drop(sid, event.rev)
            else:
                reread.append(event)  # the record, not the event, has the times
        records = await retry_forever(lambda: self._read(reread), clock=self.ctx.clock,
                                      log=self.log, what="re-reading strategy records")
        now = self.ctx.clock.now()
        past: list[Entry] = []
        for event, record in zip(reread, records, strict=True):
            sid = event.strategy_id
            assert sid is not None
            if record is None or record.status != StrategyStatus.RUNNING.value:
                self._book.drop(sid, event.rev)
            elif self._book.newer(sid, record.rev):
                past += self._book.arm(record, now, changed_at=plan.instant(event.ts))
                if needs_broker(record):
                    self._readiness.wanted.set()  # its connection may be new to the gate
        self._wake.set()
        await self._settle(past)
        self._report_abandoned()

    def _report_abandoned(self) -> None:
        """Report the held BUYs whose strategy stopped: the user was told they would fire."""
        abandoned = self._book.take_abandoned()
        if abandoned:
            now = self.ctx.clock.now()
            self.missed += len(abandoned)
            self._side_effects.spawn(self._reporter.report(
                [entry for entry, _ in abandoned], now,
                {entry.key: Why(reason, STOPPED) for entry, reason in abandoned}))

    async def _read(self, events: list[Event]) -> list[StrategyRuntime | None]:
        slots = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(event: Event) -> StrategyRuntime | None:
            async with slots:
                return await self._store.get(event.user_id, event.strategy_id or "")

        return list(await asyncio.gather(*(one(e) for e in events)))

    async def _settle(self, past: list[Entry]) -> None:
        """Judge entries found already past: not due, fire now (grace), or missed. A BUY
        that was held (here, or by any replica: the held reasons in Redis) is never
        dropped silently: its missed report says why it was held."""
        if not past:
            return
        found = await retry_forever(lambda: self._read_past(past), clock=self.ctx.clock,
                                    log=self.log, what="reading the fired triggers")
        now = self.ctx.clock.now()
        grace = self.ctx.settings.trigger_grace_s
        fire: list[Entry] = []
        missed: list[Entry] = []
        why: dict[Key, Why] = {}
        held: set[Key] = set()
        for entry, (was_fired, stored_reason) in zip(past, found, strict=True):
            if not self._book.is_current(entry):
                continue
            reason = self._book.was_held(entry.key) or stored_reason
            outcome = plan.verdict(entry.at, now, since=self._book.since(entry),
                                   fired=was_fired, grace_s=grace)
            if was_fired or outcome is not plan.Verdict.NOT_DUE:
                self._book.mark_done(entry.key)
            if outcome is plan.Verdict.FIRE:
                fire.append(entry)
                if reason is not None:
                    held.add(entry.key)
            elif outcome is plan.Verdict.MISSED:
                missed.append(entry)
                if reason is not None:
                    why[entry.key] = Why(reason)
            elif not was_fired and reason is not None:  # held, then moved into the past
                self._book.mark_done(entry.key)
                missed.append(entry)
                why[entry.key] = Why(reason, RESCHEDULED)
        self._launch(fire, missed, now, why, held)

    async def _read_past(self, past: list[Entry]) -> list[tuple[bool, str | None]]:
        """Each entry's fired mark, and why its BUY was held (any replica), if it was."""
        assert self._book.day is not None
        day = self._book.day.isoformat()
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            pipe.smismember(redis_keys.trigger_fired(day), [plan.member(e) for e in past])
            pipe.hmget(redis_keys.trigger_held_reasons(day), [plan.member(e) for e in past])
            flags, reasons = await pipe.execute()
        return [(bool(flag), reason if entry.action is OrderAction.BUY else None)
                for entry, flag, reason in zip(past, flags, reasons, strict=True)]
