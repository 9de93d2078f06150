"""The order benchmarks' plan: which strategy buys what, and when.

Buy and sell times are IST times of one day; `Planned` is one strategy and its instants.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Final

from bench.progress import progress
from core.clock import IST
from core.ids import new_id

STEADY_SPACING: Final = timedelta(milliseconds=10)
"""100 buy times a second."""
BURST: Final = 1000
WARMUP: Final = 40
"""Orders placed before measuring, so pools and caches are as a running system has them."""
SYMBOLS: Final = 20
LEAD: Final = timedelta(seconds=15)
"""From planning to the first measured buy time: creating and arming the strategies takes
a few seconds of it, the rest (about 10 s) is quiet before the measurement."""
BURST_GAP: Final = timedelta(seconds=10)
"""After the last steady buy time, before the burst instant."""
SELL_AFTER: Final = timedelta(minutes=10)
"""Sell times are never reached while the benchmark runs."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One strategy of the benchmark and the instant its BUY is due."""

    strategy_id: str
    user_id: str
    symbol: str
    at: datetime
    phase: str
    sell_at: datetime | None = None
    """When its SELL is due; None: `SELL_AFTER` later, never reached while a bench runs."""


def plan_phase(phase: str, instants: Sequence[datetime], users: Sequence[str],
               symbols: Sequence[str], offset: int = 0) -> list[Planned]:
    """One strategy per instant, dealt round-robin over users and symbols."""
    return [Planned(new_id("str"), users[(offset + i) % len(users)],
                    symbols[(offset + i) % len(symbols)], at, phase)
            for i, at in enumerate(instants)]


def steady_instants(first: datetime, seconds: float) -> list[datetime]:
    """Buy times `STEADY_SPACING` apart for `seconds`."""
    count = round(timedelta(seconds=seconds) / STEADY_SPACING)
    return [first + i * STEADY_SPACING for i in range(count)]


def same_day_or_wait(span: timedelta) -> None:
    """Buy and sell times are IST times of one day: sleep past midnight if `span` from now
    would cross it."""
    now = datetime.now(IST)
    if (now + span).date() != now.date():
        midnight = datetime.combine(now.date() + timedelta(days=1), clock_time(0), IST)
        wait_s = (midnight - now).total_seconds() + 1
        progress(f"waiting {wait_s:.0f} s for IST midnight to pass (times are of one day)")
        time.sleep(wait_s)


def sell_time_for(at: datetime) -> clock_time:
    """`SELL_AFTER` later, or the last instant of the day."""
    later = at + SELL_AFTER
    return later.time() if later.date() == at.date() else clock_time.max
