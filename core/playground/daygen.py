"""Synthetic trading days for replays, tests and demos: seeded, so a seed is a day.

Every instrument gets a previous close (₹100 to ₹5,000, log-uniform), an opening gap (mostly
under 1%, now and then a 3% jump on news), a trend for the day, and returns whose variance
clusters (GARCH(1,1): a volatile minute is followed by more) on top of the intraday U-shape
(busy at the open and the close, quiet at lunch). Ticks fall on whole seconds, like the
exchange's own timestamps, for every instrument that trades in that second.

The day depends on the seed and the instrument list only (numpy's PCG64 stream is stable
across versions), so the same arguments give the same ticks, byte for byte.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Final

import msgspec
import numpy as np

from core.clock import IST

OPEN: Final = time(9, 15)
CLOSE: Final = time(15, 30)
TICK_PAISE: Final = 5
GARCH_ALPHA: Final = 0.05
GARCH_BETA: Final = 0.93

Instrument = tuple[str, str]
Row = tuple[str, str, int]
"""(exchange, symbol, ltp_paise) of one tick."""
Second = tuple[int, list[Row]]
"""(exchange_ts in epoch ns, the ticks of that instant)."""


@dataclass(frozen=True, slots=True)
class DaySpec:
    """What to generate."""

    day: date
    instruments: Sequence[Instrument]
    seed: int = 1
    tick_prob: float = 1.0
    """Chance that an instrument trades in a given second."""
    start: time = OPEN
    end: time = CLOSE


def session_seconds(spec: DaySpec) -> int:
    """Seconds from `start` to `end`."""
    begin = datetime.combine(spec.day, spec.start, IST)
    return int((datetime.combine(spec.day, spec.end, IST) - begin).total_seconds())


def synthetic_day(spec: DaySpec) -> Iterator[Second]:
    """The day's ticks, one second at a time, in time order."""
    names = sorted(set(spec.instruments))
    n = len(names)
    steps = session_seconds(spec)
    if n == 0 or steps <= 0:
        return
    key = zlib.crc32(repr((spec.seed, spec.day.isoformat(), names)).encode())
    rng = np.random.Generator(np.random.PCG64([spec.seed & 0xFFFFFFFF, key]))
    prev_close = np.exp(rng.uniform(np.log(100_00), np.log(5_000_00), n))
    gap = rng.normal(0.0, 0.006, n) + np.where(rng.random(n) < 0.1,
                                                rng.normal(0.0, 0.03, n), 0.0)
    daily_vol = rng.uniform(0.012, 0.03, n)
    drift = rng.normal(0.0, 0.012, n) / steps
    step_var = (daily_vol / np.sqrt(steps)) ** 2
    omega = (1.0 - GARCH_ALPHA - GARCH_BETA) * step_var
    var = step_var.copy()
    log_price = np.log(prev_close) + gap
    start_ns = int(datetime.combine(spec.day, spec.start, IST).timestamp()) * 1_000_000_000
    minutes = np.arange(steps) / 60.0
    shape = 1.0 + 1.5 * np.exp(-minutes / 20.0) + 0.8 * np.exp(-(minutes[-1] - minutes) / 20.0)
    shape /= np.sqrt(np.mean(shape ** 2))
    shocks = rng.standard_normal((steps, n))
    trades = rng.random((steps, n)) < spec.tick_prob if spec.tick_prob < 1.0 else None
    for t in range(steps):
        innovation = np.sqrt(var) * shocks[t]
        var = omega + GARCH_ALPHA * innovation * innovation + GARCH_BETA * var
        log_price = log_price + drift + innovation * shape[t]
        paise = np.maximum(TICK_PAISE, np.rint(np.exp(log_price) / TICK_PAISE) * TICK_PAISE)
        prices = paise.astype(np.int64).tolist()
        if trades is None:
            rows = [(ex, sym, p) for (ex, sym), p in zip(names, prices, strict=True)]
        else:
            mask = trades[t].tolist()
            rows = [(ex, sym, p) for (ex, sym), p, m in zip(names, prices, mask, strict=True)
                    if m]
        yield start_ns + t * 1_000_000_000, rows


class _Line(msgspec.Struct):
    exchange: str
    symbol: str
    ltp_paise: int
    exchange_ts: int


def write_day(path: Path, seconds: Iterable[Second]) -> int:
    """Write ticks in the replay source's format (.jsonl/.ndjson or .csv); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(("exchange", "symbol", "ltp_paise", "exchange_ts"))
            for ts, rows in seconds:
                writer.writerows((ex, sym, p, ts) for ex, sym, p in rows)
                count += len(rows)
        return count
    encode = msgspec.json.Encoder().encode
    with path.open("wb") as out:
        for ts, rows in seconds:
            out.write(b"".join(encode(_Line(ex, sym, p, ts)) + b"\n" for ex, sym, p in rows))
            count += len(rows)
    return count


def group_by_instant(rows: Iterable[tuple[int, str, str, int]]) -> Iterator[Second]:
    """Flat (exchange_ts, exchange, symbol, ltp_paise) rows in time order, grouped by instant."""
    current: int | None = None
    batch: list[Row] = []
    for ts, exchange, symbol, paise in rows:
        if ts != current:
            if current is not None and batch:
                yield current, batch
            if current is not None and ts < current:
                raise ValueError("ticks must be in time order")
            current, batch = ts, []
        batch.append((exchange, symbol, paise))
    if current is not None and batch:
        yield current, batch


def session_start(day: date) -> datetime:
    """The session's opening instant."""
    return datetime.combine(day, OPEN, IST)


def before_open(day: date, seconds: float = 60.0) -> datetime:
    """A moment before the session opens (where a replay starts its clock)."""
    return session_start(day) - timedelta(seconds=seconds)
