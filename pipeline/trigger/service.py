"""The trigger role (RUN-1): every running strategy's BUY and SELL, each trading day, on time.

Start-up order is what makes it gap-free: follow the strategy events first, then take the
Redis snapshot, then apply the buffered and later events whose `rev` is newer. One
scheduler task sleeps until the earliest entry (or midnight) and is woken early whenever the
schedule changes. The scheduler's own changes are synchronous; the others (events, the day
roll-over, the start-up) await I/O and so take one lock, and never interleave.

A BUY on a real broker passes the readiness gate first (readiness.py, BRK-10): when the
broker is not ready the BUY is *held* — no command is published, the user gets one ERROR
event (held.py), and the entry stays owed, re-checked every refresh interval; it fires as
soon as the broker is ready within the grace period, and is reported missed (with the
reason) when the grace period ends. SELLs are never held: an exit always goes out. The
daily token check (tokens.py, BRK-9) runs here too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Final

from brokers.connectors import build_connectors
from core import redis_keys
from core.aio import Background, cancel_and_wait
from core.calendar import CalendarNotCovered, TradingCalendar
from core.clock import now_ist
from core.connections.health import HealthStore
from core.connections.probe import Prober
from core.crypto import SecretBox
from core.db.enums import StrategyStatus
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
from pipeline.trigger.missed import MissedReporter
from pipeline.trigger.readiness import Readiness, needs_broker
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


class TriggerService(Service):
    """Fires order commands at each running strategy's buy and sell times."""

    role = "trigger"
    description = "schedule of running strategies to cmd.order.>"

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        self._book = Book(paper_always_open=ctx.settings.paper_always_open)
        self._store = RuntimeStore(ctx.redis)
        self._follower = EventFollower(ctx.js, self.log)
        self._firer = Firer(ctx.js, ctx.redis, ctx.clock, self.log)
        self._side_effects = Background(self.log, "trigger side effect")
        events = EventPublisher(ctx.js, ctx.clock)
        settings = ctx.settings
        self._reporter = MissedReporter(events, ctx.redis, ctx.sessions, ctx.clock, self.log,
                                        settings.trigger_grace_s)
        health = HealthStore(ctx.redis)
        prober = Prober(ctx.sessions, SecretBox(settings.encryption_key_map),
                        build_connectors(settings, ctx.clock), health, ctx.clock,
                        timeout_s=settings.broker_check_timeout_s)
        self._readiness = Readiness(ctx.sessions, health, prober, ctx.clock, self.log,
                                    probe_lead_s=settings.trigger_probe_lead_s)
        self._gate = Gate(self._book, self._readiness,
                          HeldReporter(events, ctx.redis, ctx.sessions, ctx.clock, self.log,
                                       settings.trigger_grace_s),
                          self._side_effects.spawn, grace_s=settings.trigger_grace_s,
                          recheck_s=settings.trigger_readiness_refresh_s)
        self._tokens = TokenWatch(ctx.sessions, events, ctx.clock, self.log,
                                  settings.token_check_at, self._market_open)
        self._calendar: TradingCalendar | None = None
        self._uncovered_logged: date | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
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
                await self._refresh_readiness()
                await self._begin_day(now_ist(self.ctx.clock).date())
            self._tasks = [
                asyncio.create_task(self._follower.run(self._on_events), name="trigger-events"),
                asyncio.create_task(self._run_schedule(), name="trigger-schedule"),
                asyncio.create_task(self._run_readiness(), name="trigger-readiness"),
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

    async def _run_readiness(self) -> None:
        """Refresh the readiness gate's view every interval, or at once when asked."""
        interval = self.ctx.settings.trigger_readiness_refresh_s
        while True:
            try:
                await self._refresh_readiness()
            except Exception:
                self.log.exception("readiness refresh failed; retrying")
            self._readiness.wanted.clear()
            await wait_until(self.ctx.clock,
                             self.ctx.clock.now() + timedelta(seconds=interval),
                             self._readiness.wanted)

    async def _refresh_readiness(self) -> None:
        now = self.ctx.clock.now()
        lead = timedelta(seconds=self.ctx.settings.trigger_probe_lead_s)
        had_held = bool(self._book.held_brokers())
        await self._readiness.refresh(
            self._book.brokers(), due_soon=self._book.brokers_due(now, lead),
            held=self._book.held_brokers(),
            recheck_s=self.ctx.settings.trigger_readiness_refresh_s)
        if had_held:
            self._wake.set()  # a held BUY may be ready now

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
        why: dict[Key, str] = {}
        for entry in due:
            if self._book.is_done(entry.key):
                continue
            held_because = self._book.held_reason(entry.key)
            self._book.mark_done(entry.key)
            slack = HELD_TOLERANCE_S if held_because is not None else 0.0
            if (now - entry.at).total_seconds() > grace + slack:
                late.append(entry)
                if held_because is not None:
                    why[entry.key] = held_because
            else:
                fire.append(entry)
        self._launch(fire, late, now, why)

    def _launch(self, fire: list[Entry], missed: list[Entry], now: datetime,
                why: dict[Key, str] | None = None) -> None:
        fire, held_missed, held_why = self._gate.split(fire, now)
        missed = missed + held_missed
        why = {**(why or {}), **held_why}
        if fire:
            self._side_effects.spawn(self._firer.fire(fire))
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

    async def _read(self, events: list[Event]) -> list[StrategyRuntime | None]:
        slots = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(event: Event) -> StrategyRuntime | None:
            async with slots:
                return await self._store.get(event.user_id, event.strategy_id or "")

        return list(await asyncio.gather(*(one(e) for e in events)))

    async def _settle(self, past: list[Entry]) -> None:
        """Judge entries found already past: not due, fire now (grace), or missed."""
        if not past:
            return
        fired = await retry_forever(lambda: self._fired_in_redis(past), clock=self.ctx.clock,
                                    log=self.log, what="reading the fired triggers")
        now = self.ctx.clock.now()
        grace = self.ctx.settings.trigger_grace_s
        fire: list[Entry] = []
        missed: list[Entry] = []
        for entry, was_fired in zip(past, fired, strict=True):
            if not self._book.is_current(entry):
                continue
            outcome = plan.verdict(entry.at, now, since=self._book.since(entry),
                                   fired=was_fired, grace_s=grace)
            if was_fired or outcome is not plan.Verdict.NOT_DUE:
                self._book.mark_done(entry.key)
            if outcome is plan.Verdict.FIRE:
                fire.append(entry)
            elif outcome is plan.Verdict.MISSED:
                missed.append(entry)
        self._launch(fire, missed, now)

    async def _fired_in_redis(self, past: list[Entry]) -> list[bool]:
        assert self._book.day is not None
        flags = await self.ctx.redis.smismember(
            redis_keys.trigger_fired(self._book.day.isoformat()), [plan.member(e) for e in past])
        return [bool(flag) for flag in flags]

