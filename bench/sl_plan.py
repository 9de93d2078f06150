"""The stop-loss benchmark's plan: armed positions and the tick schedule that breaches them.

Each symbol holds `per_symbol` BOUGHT positions with PRICE stops on `per_symbol / per_level`
distinct levels, `STEP` paise apart below the entry (half of them also have a target no tick
reaches). Its price walks down through those levels: an ordinary tick lands just above the
highest stop still armed (it breaches nothing); a breaching tick lands exactly on that stop,
which fires the `per_level` positions there and nothing below. So the stops are used up one
level at a time, breaches keep happening through the run, and the set of exits each tick
must cause is known here exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from core import subjects
from core.ids import new_id
from core.messages import Tick
from core.strategies.runtime import StrategyRuntime

EXCHANGE: Final = "NSE"
STEP: Final = 100
"""Paise between two stop levels of one symbol."""
FIRST_PRICE: Final = 100_000
USERS: Final = 1000


def rupees(paise: int) -> str:
    """Paise as the decimal rupee string of a runtime record."""
    return f"{paise // 100}.{paise % 100:02d}"


@dataclass(slots=True)
class SymbolPlan:
    """One symbol's stop levels (highest first) and the strategies armed on each."""

    symbol: str
    subject: str
    levels: list[int]
    armed: list[list[str]]
    next_level: int = 0
    """The highest level not breached yet."""


@dataclass(slots=True)
class Plan:
    """Every armed position of the benchmark, by symbol."""

    symbols: list[SymbolPlan]
    records: list[StrategyRuntime] = field(default_factory=list)


def build_plan(symbols: int, per_symbol: int, per_level: int, day: date) -> Plan:
    """`symbols * per_symbol` BOUGHT runtime records, as the executor leaves them after a buy."""
    users = [f"usr_bench{i:04d}" for i in range(USERS)]
    plan = Plan([])
    n = 0
    for s in range(symbols):
        symbol = f"BENCH{s:04d}"
        entry = FIRST_PRICE + 50 * s
        levels = [entry - STEP * (j + 1) for j in range(per_symbol // per_level)]
        armed: list[list[str]] = [[] for _ in levels]
        for k in range(per_symbol):
            level = k // per_level
            record = StrategyRuntime(
                user_id=users[n % USERS], strategy_id=new_id("str"), rev=1, status="RUNNING",
                exchange=EXCHANGE, symbol=symbol, buy_time="09:20:00", sell_time="15:10:00",
                stop_loss_type="PRICE", stop_loss_value=rupees(levels[level]), quantity=1,
                broker="paper", is_simulated=False, position="BOUGHT",
                target_price=rupees(entry + 100_000) if n % 2 else None,
                entry_price=rupees(entry), position_day=day.isoformat())
            plan.records.append(record)
            armed[level].append(record.strategy_id)
            n += 1
        plan.symbols.append(SymbolPlan(symbol, subjects.tick(EXCHANGE, symbol), levels, armed))
    return plan


class Schedule:
    """The ticks in order: symbols round-robin, a `fraction` of them breaching."""

    def __init__(self, plan: Plan, fraction: float, seed: int = 6) -> None:
        self._symbols = plan.symbols
        self._fraction = fraction
        self._random = random.Random(seed)  # a schedule, not a secret
        self._i = 0

    def next(self, now_ns: int) -> tuple[str, Tick, list[str]]:
        """The next tick (stamped `now_ns`, as the feed stamps what it receives) and the
        strategies it must exit (empty for an ordinary tick)."""
        plan = self._symbols[self._i % len(self._symbols)]
        self._i += 1
        j = plan.next_level
        breached: list[str] = []
        if j >= len(plan.levels):  # every stop of the symbol fired: nothing left to breach
            price = plan.levels[-1] - STEP
        elif self._random.random() < self._fraction:
            price = plan.levels[j]
            breached = plan.armed[j]
            plan.next_level = j + 1
        else:
            price = plan.levels[j] + 1 + self._random.randrange(STEP - 1)
        tick = Tick(exchange=EXCHANGE, symbol=plan.symbol, ltp_paise=price,
                    exchange_ts=now_ns, received_ts=now_ns)
        return plan.subject, tick, breached
