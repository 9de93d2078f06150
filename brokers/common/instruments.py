"""An instrument master in memory: download, validate, swap atomically (BRK-11).

Each adapter parses its broker's file (CSV or JSON) into its own record type and hands
the records to an `InstrumentStore`, which checks them and replaces the whole snapshot in
one assignment: a reader sees the old master or the new one, never a mix. A download
that fails validation raises InstrumentMasterInvalid and leaves the old master in use.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeAlias, TypeVar

from brokers.errors import InstrumentMasterInvalid
from core.clock import IST, Clock

Instrument: TypeAlias = tuple[str, str]
"""(exchange, symbol), as the rest of the system names an instrument: ("NSE", "RELIANCE")."""

R = TypeVar("R")
T = TypeVar("T", bound=Hashable)

SHRINK_LIMIT = 0.5
"""A new master with fewer rows than this fraction of the current one is refused as a
truncated download."""


def read_csv_rows(text: str, required: Collection[str]) -> list[dict[str, str]]:
    """The rows of a CSV with a header; InstrumentMasterInvalid if a column is missing."""
    reader = csv.DictReader(io.StringIO(text))
    missing = sorted(set(required) - set(reader.fieldnames or ()))
    if missing:
        raise InstrumentMasterInvalid(f"instrument master lacks columns {', '.join(missing)}")
    return list(reader)


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[R, T]):
    """One complete, validated master."""

    by_instrument: dict[Instrument, R]
    by_token: dict[T, R]
    loaded_at: datetime

    def __len__(self) -> int:
        return len(self.by_instrument)


class InstrumentStore(Generic[R, T]):
    """The current master of one broker, keyed both ways."""

    def __init__(self, *, instrument: Callable[[R], Instrument], token: Callable[[R], T],
                 shrink_limit: float = SHRINK_LIMIT) -> None:
        self._instrument = instrument
        self._token = token
        self._shrink_limit = shrink_limit
        self._snapshot: Snapshot[R, T] | None = None
        self._lock = asyncio.Lock()

    @property
    def snapshot(self) -> Snapshot[R, T] | None:
        """The master in use, None before the first load."""
        return self._snapshot

    def get(self, exchange: str, symbol: str) -> R | None:
        """The record of an instrument, None if the master does not list it."""
        snapshot = self._snapshot
        return None if snapshot is None else snapshot.by_instrument.get((exchange, symbol))

    def by_token(self, token: T) -> R | None:
        """The record of a broker token, None if unknown."""
        snapshot = self._snapshot
        return None if snapshot is None else snapshot.by_token.get(token)

    def swap(self, records: Iterable[R], *, loaded_at: datetime) -> Snapshot[R, T]:
        """Validate `records` as a whole master and make it current (atomically)."""
        by_instrument: dict[Instrument, R] = {}
        by_token: dict[T, R] = {}
        for record in records:
            by_instrument[self._instrument(record)] = record
            by_token[self._token(record)] = record
        if not by_instrument:
            raise InstrumentMasterInvalid("instrument master is empty")
        current = self._snapshot
        if current is not None and len(by_instrument) < len(current) * self._shrink_limit:
            raise InstrumentMasterInvalid(
                f"instrument master shrank from {len(current)} to {len(by_instrument)} rows; "
                "keeping the previous one")
        snapshot = Snapshot(by_instrument, by_token, loaded_at)
        self._snapshot = snapshot
        return snapshot

    async def refresh(self, fetch: Callable[[], Awaitable[Iterable[R]]], *,
                      loaded_at: Callable[[], datetime],
                      stale: Callable[[Snapshot[R, T]], bool] | None = None,
                      ) -> Snapshot[R, T]:
        """Download and swap in a new master; concurrent callers share one download, and
        with `stale` given, a current master that is not stale is kept as it is."""
        async with self._lock:
            current = self._snapshot
            if current is not None and stale is not None and not stale(current):
                return current
            return self.swap(await fetch(), loaded_at=loaded_at())


def loaded_before_today(clock: Clock) -> Callable[[Snapshot[Any, Any]], bool]:
    """A `stale` test for `InstrumentStore.refresh`: a master loaded on an earlier IST day
    (brokers regenerate their masters every morning)."""
    def stale(snapshot: Snapshot[Any, Any]) -> bool:
        today = clock.now().astimezone(IST).date()
        return snapshot.loaded_at.astimezone(IST).date() < today

    return stale


class DailyMaster(Generic[R, T]):
    """A broker's master as a text download, parsed by the adapter and refreshed once per
    IST day; the adapter's own class adds its lookups on top."""

    def __init__(self, clock: Clock, parse: Callable[[str], list[R]], *,
                 instrument: Callable[[R], Instrument], token: Callable[[R], T]) -> None:
        self._clock = clock
        self._parse = parse
        self._store: InstrumentStore[R, T] = InstrumentStore(instrument=instrument,
                                                             token=token)

    @property
    def snapshot(self) -> Snapshot[R, T] | None:
        """The master in use."""
        return self._store.snapshot

    def load(self, text: str) -> Snapshot[R, T]:
        """Parse, validate and swap in a master (InstrumentMasterInvalid keeps the old)."""
        return self._store.swap(self._parse(text), loaded_at=self._clock.now())

    async def ensure(self, download: Callable[[], Awaitable[str]]) -> None:
        """Download a master unless today's (IST) is already loaded."""
        await self._store.refresh(lambda: self._fetch(download), loaded_at=self._clock.now,
                                  stale=loaded_before_today(self._clock))

    async def refresh(self, download: Callable[[], Awaitable[str]]) -> None:
        """Download and swap in a master now, whatever is loaded."""
        await self._store.refresh(lambda: self._fetch(download), loaded_at=self._clock.now)

    def get(self, exchange: str, symbol: str) -> R | None:
        """The record of `EXCHANGE:SYMBOL`, None if not listed (or no master yet)."""
        return self._store.get(exchange, symbol)

    def by_token(self, token: T) -> R | None:
        """The record of a broker token, None if unknown."""
        return self._store.by_token(token)

    async def _fetch(self, download: Callable[[], Awaitable[str]]) -> list[R]:
        return self._parse(await download())
