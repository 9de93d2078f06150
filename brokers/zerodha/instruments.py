"""Kite's instrument master: `NSE:RELIANCE` ↔ instrument_token (BRK-11).

`GET /instruments` (or `/instruments/{exchange}`) returns a CSV with the header
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,
lot_size,instrument_type,segment,exchange (zerodha/pykiteconnect kiteconnect/connect.py
`_parse_instruments`; zerodha/kiteconnect-mocks instruments_*.csv). Kite regenerates it
every morning, so a master loaded on an earlier IST day is stale.
instrument_token = exchange_token << 8 | segment (RELIANCE on NSE: 2885 << 8 | 1 = 738561).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from brokers.common.instruments import InstrumentStore, Snapshot, read_csv_rows
from brokers.errors import InstrumentMasterInvalid
from core.clock import IST, Clock

COLUMNS: Final = ("instrument_token", "exchange_token", "tradingsymbol", "name", "last_price",
                  "expiry", "strike", "tick_size", "lot_size", "instrument_type", "segment",
                  "exchange")


@dataclass(frozen=True, slots=True)
class KiteInstrument:
    """One row of the master, the fields we use."""

    token: int
    exchange: str
    symbol: str
    name: str
    instrument_type: str
    segment: str
    tick_size: Decimal
    lot_size: int


def parse(text: str) -> list[KiteInstrument]:
    """The rows of a master CSV; InstrumentMasterInvalid on a missing column or a bad row."""
    rows = read_csv_rows(text, COLUMNS)
    out: list[KiteInstrument] = []
    for line, row in enumerate(rows, start=2):
        try:
            out.append(KiteInstrument(
                token=int(row["instrument_token"]), exchange=row["exchange"],
                symbol=row["tradingsymbol"], name=row["name"],
                instrument_type=row["instrument_type"], segment=row["segment"],
                tick_size=Decimal(row["tick_size"] or "0"), lot_size=int(row["lot_size"] or 1)))
        except (ValueError, InvalidOperation, TypeError) as exc:
            raise InstrumentMasterInvalid(f"instrument master line {line}: {exc}") from exc
        if not out[-1].exchange or not out[-1].symbol or out[-1].token <= 0:
            raise InstrumentMasterInvalid(f"instrument master line {line}: empty key field")
    return out


class KiteInstruments:
    """The process's Kite master, shared by every Zerodha account (it is the same file)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._store: InstrumentStore[KiteInstrument, int] = InstrumentStore(
            instrument=lambda r: (r.exchange, r.symbol), token=lambda r: r.token)

    @property
    def snapshot(self) -> Snapshot[KiteInstrument, int] | None:
        """The master in use."""
        return self._store.snapshot

    def load(self, text: str) -> Snapshot[KiteInstrument, int]:
        """Parse, validate and swap in a master (InstrumentMasterInvalid keeps the old)."""
        return self._store.swap(parse(text), loaded_at=self._clock.now())

    async def ensure(self, download: Callable[[], Awaitable[str]]) -> None:
        """Download a master unless today's (IST) is already loaded."""
        async def fetch() -> list[KiteInstrument]:
            return parse(await download())

        await self._store.refresh(fetch, loaded_at=self._clock.now, stale=self._stale)

    def token(self, exchange: str, symbol: str) -> int | None:
        """The instrument_token of `EXCHANGE:SYMBOL`, None if not listed."""
        record = self._store.get(exchange, symbol)
        return None if record is None else record.token

    def instrument(self, token: int) -> tuple[str, str] | None:
        """(exchange, symbol) of an instrument_token, None if unknown."""
        record = self._store.by_token(token)
        return None if record is None else (record.exchange, record.symbol)

    def _stale(self, snapshot: Snapshot[KiteInstrument, int]) -> bool:
        today = self._clock.now().astimezone(IST).date()
        return snapshot.loaded_at.astimezone(IST).date() < today
