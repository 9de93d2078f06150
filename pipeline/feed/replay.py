"""The replay source: ticks recorded in a file, played back in order.

CSV files have a header row `exchange,symbol,ltp_paise,exchange_ts`; JSONL files (`.jsonl`,
`.ndjson`) hold one Tick object per line. `realtime` keeps the recorded spacing between rows
on the clock, `fast` plays as fast as the feed takes them. Only subscribed instruments pass;
the recorded exchange timestamps are kept. A restart resumes after the last row played, and
the end of the file leaves the source idle (not ended), so it is not replayed in a loop.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Final, Literal

import msgspec

from core.clock import Clock
from core.messages import Tick
from pipeline.feed.errors import FeedConfigError
from pipeline.feed.sources import Instrument, TimeBase, pause

CSV_HEADER: Final = ("exchange", "symbol", "ltp_paise", "exchange_ts")
JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson"})
YIELD_EVERY: Final = 256
"""Rows read back to back (fast mode) before the loop is given a turn."""

Speed = Literal["realtime", "fast"]


class _Row(msgspec.Struct, frozen=True):
    """One recorded tick of a JSONL file (other Tick fields are ignored)."""

    exchange: str
    symbol: str
    ltp_paise: int
    exchange_ts: int


_decode_row = msgspec.json.Decoder(_Row).decode


def check_file(path: Path) -> None:
    """Refuse a file the source could not play (missing, unknown kind, wrong CSV header)."""
    if not path.is_file():
        raise FeedConfigError(f"replay file {path} does not exist (ALGO_FEED_REPLAY_PATH)")
    if path.suffix.lower() in JSONL_SUFFIXES:
        return
    if path.suffix.lower() != ".csv":
        raise FeedConfigError(f"replay file {path} must end in .csv, .jsonl or .ndjson")
    with path.open(newline="") as f:
        header = next(csv.reader(f), None)
    if header is None or tuple(h.strip() for h in header) != CSV_HEADER:
        raise FeedConfigError(f"replay file {path} must start with the header "
                              f"{','.join(CSV_HEADER)}; found {header!r}")


def _rows(f: io.TextIOWrapper, jsonl: bool) -> Iterator[_Row | None]:
    """The file's rows; None for a row that cannot be read (counted, then skipped)."""
    if jsonl:
        for line in f:
            if line.strip():
                try:
                    yield _decode_row(line)
                except msgspec.DecodeError:
                    yield None
        return
    reader = csv.reader(f)
    next(reader, None)  # the header
    for fields in reader:
        if not fields:
            continue
        try:
            exchange, symbol, ltp, ts = fields
            yield _Row(exchange.strip(), symbol.strip(), int(ltp), int(ts))
        except ValueError:
            yield None


def read_ticks(path: Path) -> Iterator[tuple[int, str, str, int]]:
    """A file's readable rows as (exchange_ts, exchange, symbol, ltp_paise), in file order
    (the playground's replay engine reads recorded days through this)."""
    check_file(path)
    with path.open(newline="") as f:
        for row in _rows(f, path.suffix.lower() in JSONL_SUFFIXES):
            if row is not None:
                yield row.exchange_ts, row.exchange, row.symbol, row.ltp_paise


class ReplaySource:
    """Plays a recorded file once, for the subscribed instruments."""

    name = "replay"

    def __init__(self, clock: Clock, path: Path, *, speed: Speed = "realtime",
                 log: logging.Logger | None = None) -> None:
        self._clock = clock
        self._path = path
        self._speed = speed
        self._log = log or logging.getLogger("algo.pipeline.feed.replay")
        self._jsonl = path.suffix.lower() in JSONL_SUFFIXES
        self._wanted: set[Instrument] = set()
        self._last: dict[Instrument, int] = {}
        self._file: io.TextIOWrapper | None = None
        self._closed = asyncio.Event()
        self.rows_played = 0
        """Rows consumed so far (a restart skips them)."""
        self.bad_rows = 0
        self.finished = False

    async def start(self) -> None:
        """Open the file."""
        self._closed.clear()
        self._file = self._path.open(newline="")

    async def close(self) -> None:
        """Close the file; `ticks()` ends."""
        self._closed.set()
        if self._file is not None:
            self._file.close()
            self._file = None

    async def subscribe(self, instruments: set[Instrument]) -> None:
        """Let these instruments' rows through."""
        self._wanted |= instruments

    async def unsubscribe(self, instruments: set[Instrument]) -> None:
        """Hold these instruments' rows back."""
        self._wanted -= instruments

    async def last_price(self, exchange: str, symbol: str) -> int | None:
        """The last price played for the instrument."""
        return self._last.get((exchange, symbol))

    async def ticks(self) -> AsyncGenerator[Tick, None]:
        """The file's rows from where playing stopped, then nothing until `close()`."""
        if self._file is None:
            raise RuntimeError("ReplaySource.start() has not run")
        clock = self._clock
        realtime = self._speed == "realtime"
        base = TimeBase(clock)
        previous_ts: int | None = None
        burst = 0
        for index, row in enumerate(_rows(self._file, self._jsonl)):
            if index < self.rows_played:
                continue
            if row is None:
                self.rows_played += 1
                self._bad_row()
                continue
            if realtime and previous_ts is not None and row.exchange_ts > previous_ts:
                await pause(clock, (row.exchange_ts - previous_ts) / 1e9, self._closed)
            elif burst >= YIELD_EVERY:
                burst = 0
                await asyncio.sleep(0)
            if self._closed.is_set():
                return  # this row is played after the restart
            self.rows_played += 1
            previous_ts = row.exchange_ts
            burst += 1
            instrument = (row.exchange, row.symbol)
            if instrument not in self._wanted:
                continue
            self._last[instrument] = row.ltp_paise
            yield Tick(exchange=row.exchange, symbol=row.symbol, ltp_paise=row.ltp_paise,
                       exchange_ts=row.exchange_ts, received_ts=base.at(clock.monotonic()))
            if self._closed.is_set():
                return  # the file is closed: reading on would fail
        if not self.finished:
            self.finished = True
            self._log.info("replay finished", extra={"path": str(self._path),
                                                     "rows": self.rows_played,
                                                     "bad_rows": self.bad_rows})
        await self._closed.wait()

    def _bad_row(self) -> None:
        self.bad_rows += 1
        if self.bad_rows == 1:  # one line, not one per row; the count is logged at the end
            self._log.warning("unreadable replay row skipped",
                              extra={"path": str(self._path), "row": self.rows_played})
