"""Dhan's scrip master: `NSE:RELIANCE` ↔ (exchangeSegment, securityId) (BRK-11).

The compact CSV (`https://images.dhan.co/api-data/api-scrip-master.csv`, the SDK's
`Security.COMPACT_CSV_URL`, dhan-oss/DhanHQ-py src/dhanhq/_security.py @1670f81) has 16
columns: SEM_EXM_EXCH_ID, SEM_SEGMENT, SEM_SMST_SECURITY_ID, SEM_INSTRUMENT_NAME,
SEM_EXPIRY_CODE, SEM_TRADING_SYMBOL, SEM_LOT_UNITS, SEM_CUSTOM_SYMBOL, SEM_EXPIRY_DATE,
SEM_STRIKE_PRICE, SEM_OPTION_TYPE, SEM_TICK_SIZE, SEM_EXPIRY_FLAG, SEM_EXCH_INSTRUMENT_TYPE,
SEM_SERIES, SM_SYMBOL_NAME (the SDK's tests/data/security_list.json names five of them; the
rest as third-party copies of the file show them). SEM_SEGMENT is E equity, D derivatives,
C currency, M commodity, I index; with the exchange it gives the API's exchangeSegment and
the feed's segment number (docs v2, Annexure). Security ids are unique per segment only.

Exchanges are named as the rest of the system names them (Kite's names): an NSE equity is
`NSE`, an NSE future or option `NFO`, and so on. Of two rows with one name, the EQ series
equity wins (a symbol is listed once per series).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from brokers.common.instruments import DailyMaster, read_csv_rows
from brokers.errors import InstrumentMasterInvalid
from core.clock import Clock

COLUMNS: Final = ("SEM_EXM_EXCH_ID", "SEM_SEGMENT", "SEM_SMST_SECURITY_ID",
                  "SEM_INSTRUMENT_NAME", "SEM_TRADING_SYMBOL")
"""The columns we read (the others may come and go)."""
SEGMENTS: Final = {("NSE", "E"): ("NSE_EQ", 1, "NSE"), ("NSE", "D"): ("NSE_FNO", 2, "NFO"),
                   ("NSE", "C"): ("NSE_CURRENCY", 3, "CDS"), ("BSE", "E"): ("BSE_EQ", 4, "BSE"),
                   ("MCX", "M"): ("MCX_COMM", 5, "MCX"),
                   ("BSE", "C"): ("BSE_CURRENCY", 7, "BCD"), ("BSE", "D"): ("BSE_FNO", 8, "BFO"),
                   ("NSE", "I"): ("IDX_I", 0, "NSE"), ("BSE", "I"): ("IDX_I", 0, "BSE")}
"""(SEM_EXM_EXCH_ID, SEM_SEGMENT) → (exchangeSegment, feed segment number, our exchange)."""
FEED_SEGMENTS: Final = {number: name for name, number, _ in SEGMENTS.values()}

Key = tuple[str, int]
"""(exchangeSegment, securityId)."""


@dataclass(frozen=True, slots=True)
class DhanInstrument:
    """One row of the master, the fields we use."""

    exchange: str
    symbol: str
    segment: str
    security_id: int
    instrument: str
    series: str
    lot_size: int
    tick_size: Decimal

    @property
    def key(self) -> Key:
        """(exchangeSegment, securityId)."""
        return (self.segment, self.security_id)

    @property
    def rank(self) -> int:
        """Lower wins when two rows share a name: EQ-series equity, other equity, the rest."""
        if self.segment.endswith("_EQ"):
            return 0 if self.series == "EQ" else 1
        return 2


def parse(text: str) -> list[DhanInstrument]:
    """The usable rows of a master CSV (rows of other segments are left out);
    InstrumentMasterInvalid on a missing column or a broken row."""
    chosen: dict[tuple[str, str], DhanInstrument] = {}
    for line, row in enumerate(read_csv_rows(text, COLUMNS), start=2):
        segment = SEGMENTS.get((row["SEM_EXM_EXCH_ID"], row["SEM_SEGMENT"]))
        if segment is None:
            continue
        try:
            record = DhanInstrument(
                exchange=segment[2], symbol=row["SEM_TRADING_SYMBOL"], segment=segment[0],
                security_id=int(row["SEM_SMST_SECURITY_ID"]),
                instrument=row["SEM_INSTRUMENT_NAME"], series=row.get("SEM_SERIES") or "",
                lot_size=int(float(row.get("SEM_LOT_UNITS") or 1)),
                tick_size=Decimal(row.get("SEM_TICK_SIZE") or "0"))
        except (ValueError, InvalidOperation, TypeError) as exc:
            raise InstrumentMasterInvalid(f"scrip master line {line}: {exc}") from exc
        if not record.symbol or record.security_id <= 0:
            raise InstrumentMasterInvalid(f"scrip master line {line}: empty key field")
        name = (record.exchange, record.symbol)
        held = chosen.get(name)
        if held is None or record.rank < held.rank:
            chosen[name] = record
    return list(chosen.values())


class DhanInstruments(DailyMaster[DhanInstrument, Key]):
    """The process's Dhan master, shared by every Dhan account (it is the same file)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock, parse, instrument=lambda r: (r.exchange, r.symbol),
                         token=lambda r: r.key)

    def by_key(self, segment: str, security_id: int) -> DhanInstrument | None:
        """The row of a (exchangeSegment, securityId), None if unknown."""
        return self.by_token((segment, security_id))
