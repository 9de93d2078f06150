"""The Fyers symbol master: `NSE:RELIANCE` ↔ `NSE:RELIANCE-EQ` ↔ fytoken (BRK-11).

`https://public.fyers.in/sym_details/NSE_CM.csv` (one file per exchange segment) is a CSV
without a header row (PROTOCOLS.md §3.7; a header row is tolerated) whose columns are, per
the docs' "Symbol Master" table: fytoken, symbol details, exchange instrument type, min
lot, tick size, ISIN, trading session, last update, expiry, symbol ticker, exchange,
segment, scrip code, underlying symbol, underlying scrip code, strike, option type,
underlying fytoken, and three reserved columns.

Our instrument name is the ticker without its exchange and without the "-EQ" series of
ordinary shares ("NSE:RELIANCE-EQ" → ("NSE", "RELIANCE")), as Kite names them; other
series keep their suffix ("NSE:CENTRALBK-BE" → ("NSE", "CENTRALBK-BE")).

The data socket names an instrument by a topic built from its fytoken (fyers-apiv3 3.2.0
FyersWebsocket/data_ws.py `SymbolConversion.symbol_to_hsmtoken`, map.json
`exch_seg_dict`): the segment from fytoken[:4], the exchange token fytoken[10:], e.g.
10100000002885 → "sf|nse_cm|2885". Fyers regenerates the master daily.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from brokers.common.instruments import DailyMaster
from brokers.errors import InstrumentMasterInvalid
from core.clock import Clock

MIN_COLUMNS: Final = 13
"""Up to the scrip code; the rest we do not use."""
EQ_SERIES: Final = "-EQ"
SEGMENTS: Final = {"1010": "nse_cm", "1011": "nse_fo", "1012": "cde_fo", "1020": "nse_com",
                   "1120": "mcx_fo", "1210": "bse_cm", "1211": "bse_fo", "1212": "bcs_fo"}
"""fytoken[:4] → the data socket's segment name (data_ws.py map.json exch_seg_dict)."""


def split_ticker(ticker: str) -> tuple[str, str]:
    """("NSE", "RELIANCE") for "NSE:RELIANCE-EQ"."""
    exchange, _, name = ticker.partition(":")
    return exchange, name.removesuffix(EQ_SERIES)


def default_ticker(exchange: str, symbol: str) -> str:
    """The ticker of an ordinary share when the master is not at hand."""
    return f"{exchange}:{symbol}{EQ_SERIES}"


@dataclass(frozen=True, slots=True)
class FyersInstrument:
    """One row of the master, the fields we use."""

    fytoken: str
    ticker: str
    exchange: str
    symbol: str
    name: str
    scrip_code: int
    lot_size: int
    tick_size: Decimal

    @property
    def topic(self) -> str | None:
        """The data socket's SymbolUpdate topic; None for a segment it does not serve or
        an index (indices are named differently and are never traded)."""
        segment = SEGMENTS.get(self.fytoken[:4])
        if segment is None or self.ticker.endswith("-INDEX"):
            return None
        return f"sf|{segment}|{self.fytoken[10:]}"


def parse(text: str) -> list[FyersInstrument]:
    """The rows of a master CSV; InstrumentMasterInvalid on a short or bad row."""
    out: list[FyersInstrument] = []
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or (line == 1 and row[0].strip().lower().startswith("fytoken")):
            continue
        if len(row) < MIN_COLUMNS:
            raise InstrumentMasterInvalid(
                f"symbol master line {line}: {len(row)} columns, expected at least "
                f"{MIN_COLUMNS}")
        fytoken, ticker = row[0].strip(), row[9].strip()
        exchange, symbol = split_ticker(ticker)
        try:
            record = FyersInstrument(
                fytoken=fytoken, ticker=ticker, exchange=exchange, symbol=symbol,
                name=row[1], scrip_code=int(row[12]), lot_size=int(row[3] or 1),
                tick_size=Decimal(row[4] or "0"))
        except (ValueError, InvalidOperation) as exc:
            raise InstrumentMasterInvalid(f"symbol master line {line}: {exc}") from exc
        if not fytoken.isdigit() or len(fytoken) <= 10 or not exchange or not symbol:
            raise InstrumentMasterInvalid(f"symbol master line {line}: bad key fields")
        out.append(record)
    return out


class FyersInstruments(DailyMaster[FyersInstrument, str]):
    """The process's Fyers master, shared by every Fyers account (it is the same file)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock, parse, instrument=lambda r: (r.exchange, r.symbol),
                         token=lambda r: r.fytoken)

    def ticker(self, exchange: str, symbol: str) -> str:
        """Fyers' ticker for an instrument: from the master, else the ordinary share's."""
        record = self.get(exchange, symbol)
        return record.ticker if record is not None else default_ticker(exchange, symbol)

    def instrument(self, fytoken: str) -> tuple[str, str] | None:
        """(exchange, symbol) of a fytoken, None if unknown."""
        record = self.by_token(fytoken)
        return None if record is None else (record.exchange, record.symbol)
