"""Replay a trading day through the real trigger, stop-loss watcher and executor (ANA-5).

One process, one FakeClock, one LocalBus (bus.py), the pipeline's own components
(wiring.py). The clock jumps from instant to instant — each second that has ticks, and
each scheduled BUY/SELL time between them — and at every instant, in this order:

    1  the clock is set to the instant (anything sleeping on it wakes)
    2  the instant's ticks go to the watcher's hot path (Watcher.handle), as from NATS
    3  the exits they breached are published (the watcher's Firer, awaited)
    4  the trigger's due entries fire (its Book and Firer)
    5  the commands run through the executor's CommandHandler in waves — at most one
       command per strategy per wave, in the order they were published; strategies are
       independent, so a wave runs concurrently — with each instrument's last price in
       the scratch Redis where the paper broker reads it; the events of each wave go to
       the watcher's Arming (a BUY arms its stop before the next tick), and follow-up
       commands make the next wave

Nothing waits on wall time and nothing races: the same day and the same strategies give
the same orders and the same results, byte for byte. Order ids, event ids and trace ids are
random as everywhere, but never enter the results; every time in them is the fake clock's.
"""

from __future__ import annotations

import asyncio
import logging
import time as wall
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

import msgspec
import numpy as np
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys, subjects
from core.clock import IST, FakeClock
from core.db.enums import OrderAction, OrderStatus
from core.db.models import Order
from core.messages import OrderCommand, Tick
from core.playground.charges import ChargeRates
from core.playground.daygen import Second, before_open
from core.playground.trades import (
    Fill,
    TradeResult,
    drawdown_paise,
    encode_results,
    exit_reason,
    trade_result,
)
from core.repos import playground as repo
from core.settings import Settings
from core.strategies.runtime import from_row
from pipeline.playground.outcomes import Outcomes
from pipeline.playground.wiring import Pipeline
from pipeline.slwatch.arming import FOLLOWED

FOLLOWED_TYPES = frozenset(t.value for t in FOLLOWED)
SESSION_END = time(15, 30)


@dataclass
class ReplayReport:
    """What a replay did."""

    day: date
    results: list[TradeResult]
    ticks: int = 0
    instants: int = 0
    commands: int = 0
    orders: int = 0
    wall_s: float = 0.0
    tick_s: float = 0.0
    """Of the wall time, the ticks' share (the watcher's hot path and the price paths)."""

    def encoded(self) -> bytes:
        """The results as deterministic JSON."""
        return encode_results(self.results)


@dataclass
class _Instrument:
    subject: str
    ltp_key: str
    path: array[int] = field(default_factory=lambda: array("q"))


class ReplayEngine:
    """Plays days for simulated strategies; one replay at a time per scratch Redis db."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 redis: Redis, *, rates: ChargeRates | None = None,
                 log: logging.Logger | None = None) -> None:
        self._settings = settings
        self._sessions = sessions
        self._redis = redis
        self._rates = rates or ChargeRates.from_settings(settings)
        self._log = log or logging.getLogger("algo.pipeline.playground")
        self._lock = asyncio.Lock()

    async def run(self, day: date, strategy_ids: Sequence[str],
                  seconds: Iterable[Second]) -> ReplayReport:
        """Replay `seconds` (time-ordered ticks of `day`) for the simulated strategies."""
        async with self._lock:
            return await self._run(day, strategy_ids, seconds)

    async def _run(self, day: date, strategy_ids: Sequence[str],
                   seconds: Iterable[Second]) -> ReplayReport:
        started = wall.perf_counter()
        start = before_open(day)
        clock = FakeClock(start)
        await self._redis.flushdb()  # the scratch db: no state of an earlier replay
        async with self._sessions() as session, session.begin():
            before = await repo.prepare_replay(session, strategy_ids, day, started_at=start)
        statuses = {row.id: status for row, status in before}
        records = [from_row(row) for row, _ in before]
        pipe = Pipeline(self._settings, self._sessions, self._redis, clock, self._log)
        report = ReplayReport(day=day, results=[])
        instruments = {(r.exchange, r.symbol): _Instrument(
            subjects.tick(r.exchange, r.symbol), redis_keys.ltp(r.exchange, r.symbol))
            for r in records}
        outcomes = Outcomes()
        try:
            await pipe.runtime.put_many(records)
            await pipe.arming.load()
            await pipe.market.refresh(force=True)
            for record in records:
                pipe.book.hold(record)
            pipe.book.begin_day(day, market_open=pipe.market.is_trading_day(day, paper=False),
                                done=(), now=clock.now())
            player = _Player(pipe, instruments, {
                r.strategy_id: instruments[(r.exchange, r.symbol)] for r in records},
                outcomes, report)
            for ts, rows in seconds:
                at = datetime.fromtimestamp(ts / 1e9, UTC)
                await player.until(at)
                if at > clock.now():
                    await clock.set(at)
                player.ticks(ts, rows)
                await player.settle()
            await player.until(datetime.combine(day, SESSION_END, IST))
        finally:
            async with self._sessions() as session, session.begin():
                await repo.mark_announced(session, list(statuses), day, clock.now())
                await repo.restore_status(session, statuses)
            await pipe.close()
        report.results = [self._result(row.id, day, row.exchange, row.symbol, row.quantity,
                                       outcomes, instruments[(row.exchange, row.symbol)].path)
                          for row, _ in before]
        report.wall_s = round(wall.perf_counter() - started, 3)
        report.tick_s = round(report.tick_s, 3)
        return report

    def _result(self, sid: str, day: date, exchange: str, symbol: str, quantity: int,
                outcomes: Outcomes, path: array[int]) -> TradeResult:
        entry = outcomes.entries.get(sid)
        leave = outcomes.exits.get(sid)
        drawdown = None
        if entry is not None:
            end = leave.index if leave is not None else len(path)
            held = np.frombuffer(path, dtype=np.int64)[entry.index:end]
            last = [] if leave is None else [_paise(leave.fill.price)]
            drawdown = drawdown_paise(np.concatenate(
                ([_paise(entry.fill.price)], held, last)).astype(np.int64))
        return trade_result(
            strategy_id=sid, day=day, exchange=exchange, symbol=symbol, quantity=quantity,
            entry=None if entry is None else entry.fill,
            exit=None if leave is None else leave.fill,
            reason=None if leave is None else exit_reason(leave.action,
                                                          outcomes.kinds.get(sid)),
            rates=self._rates, drawdown=drawdown)


class _Player:
    """The per-instant steps of one replay."""

    def __init__(self, pipe: Pipeline, instruments: dict[tuple[str, str], _Instrument],
                 of: dict[str, _Instrument], outcomes: Outcomes, report: ReplayReport) -> None:
        self._pipe = pipe
        self._instruments = instruments
        self._of = of
        """Each strategy's instrument (a replay does not change a strategy's symbol)."""
        self._outcomes = outcomes
        self._report = report
        self._encode = msgspec.json.Encoder().encode

    async def until(self, at: datetime) -> None:
        """Fire every scheduled entry due before `at`, each at its own instant."""
        clock = self._pipe.clock
        while (next_at := self._pipe.book.schedule.next_at()) is not None and next_at < at:
            if next_at > clock.now():
                await clock.set(next_at)
            await self.settle()

    def ticks(self, ts: int, rows: list[tuple[str, str, int]]) -> None:
        """The instant's ticks through the watcher's hot path (no I/O, no await)."""
        began = wall.perf_counter()
        self._report.ticks += len(rows)
        self._report.instants += 1
        handle = self._pipe.watcher.handle
        encode = self._encode
        instruments = self._instruments
        for exchange, symbol, paise in rows:
            slot = instruments.get((exchange, symbol))
            if slot is None:
                continue  # no replayed strategy trades it: the watcher would skip it too
            slot.path.append(paise)
            handle(slot.subject, encode(Tick(exchange=exchange, symbol=symbol,
                                             ltp_paise=paise, exchange_ts=ts,
                                             received_ts=ts)))
        self._report.tick_s += wall.perf_counter() - began

    async def settle(self) -> None:
        """Publish breached exits, fire due entries, then run every command to its end."""
        pipe = self._pipe
        if pipe.exits.tasks:
            await asyncio.gather(*list(pipe.exits.tasks))
        now = pipe.clock.now()
        due = [e for e in pipe.book.schedule.pop_due(now) if not pipe.book.is_done(e.key)]
        for entry in due:
            pipe.book.mark_done(entry.key)
        if due:
            await pipe.entries.fire(due)
        while commands := pipe.bus.take_commands():
            self._report.commands += len(commands)
            await self._quote(commands)
            for wave in _waves(commands):
                orders = await asyncio.gather(*(pipe.handler.handle(c) for c in wave))
                for command, order in zip(wave, orders, strict=True):
                    self._note(command, order)
                events = [e for e in pipe.bus.take_events() if e.type in FOLLOWED_TYPES]
                if events:
                    await pipe.arming.on_events(events)

    async def _quote(self, commands: list[OrderCommand]) -> None:
        """The current price of the commands' instruments, where the paper broker reads it."""
        prices: dict[str, int] = {}
        for command in commands:
            slot = self._of.get(command.strategy_id)
            if slot is not None and slot.path:
                prices[slot.ltp_key] = slot.path[-1]
        if prices:
            await self._pipe.redis.mset(prices)

    def _note(self, command: OrderCommand, order: Order | None) -> None:
        if order is None:
            return
        self._report.orders += 1
        if order.status != OrderStatus.FILLED.value or order.average_price is None:
            return
        assert order.completed_at is not None
        slot = self._instruments[(order.exchange, order.symbol)]
        fill = Fill(price=order.average_price, quantity=order.filled_quantity,
                    at=order.completed_at)
        if order.action == OrderAction.BUY.value:
            self._outcomes.enter(order.strategy_id, fill, len(slot.path))
        else:
            self._outcomes.leave(order.strategy_id, fill, order.action, len(slot.path),
                                 command.reason)


def _waves(commands: list[OrderCommand]) -> list[list[OrderCommand]]:
    """Commands split so that each wave holds at most one per strategy, in publish order."""
    waves: list[list[OrderCommand]] = []
    depth: dict[str, int] = {}
    for command in commands:
        level = depth.get(command.strategy_id, 0)
        depth[command.strategy_id] = level + 1
        if level == len(waves):
            waves.append([])
        waves[level].append(command)
    return waves


def _paise(rupees: Decimal) -> int:
    return int(rupees * 100)
