"""Angel's scrip master: `NSE:RELIANCE` ↔ exchange + symboltoken (BRK-11).

`OpenAPIScripMaster.json` (SmartAPI docs, "Instruments"; brokers PROTOCOLS notes §4.7) is a
JSON array, one object per instrument: `{"token": "2885", "symbol": "RELIANCE-EQ",
"name": "RELIANCE", "expiry": "", "strike": "-1.000000", "lotsize": "1",
"instrumenttype": "", "exch_seg": "NSE", "tick_size": "5.000000"}` (strike and tick size
in paise). It needs no login and is regenerated every morning, so a master loaded on an
earlier IST day is stale.

Names: Angel's NSE cash symbols carry their series ("RELIANCE-EQ"); the rest of the system
names the EQ series like the exchange does ("RELIANCE"), so an NSE "-EQ" suffix is dropped
from our name and kept as the `tradingsymbol` sent to Angel. Other series ("-BE", ...) and
other segments keep Angel's symbol. Tokens are unique per exchange only, so the reverse
map is keyed by (exchange, token).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import msgspec

from brokers.common.instruments import InstrumentStore, Snapshot
from brokers.errors import InstrumentMasterInvalid
from core.clock import IST, Clock

EXCHANGE_TYPES: Final = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "NCDEX": 7,
                         "CDS": 13}
"""exch_seg → SmartWebSocket v2 exchangeType (angel-one/smartapi-python @ff60852
SmartApi/smartWebSocketV2.py: NSE_CM 1, NSE_FO 2, BSE_CM 3, BSE_FO 4, MCX_FO 5, NCX_FO 7,
CDE_FO 13)."""
EQ_SUFFIX: Final = "-EQ"

TokenKey = tuple[str, str]
"""(exchange, symboltoken)."""


class _Row(msgspec.Struct, frozen=True):
    token: str | int
    symbol: str
    name: str
    exch_seg: str
    instrumenttype: str = ""
    lotsize: str | int = "1"
    tick_size: str | int | float = "0"


@dataclass(frozen=True, slots=True)
class AngelInstrument:
    """One instrument, the fields we use."""

    exchange: str
    symbol: str
    """Our name (`RELIANCE`)."""
    tradingsymbol: str
    """Angel's name (`RELIANCE-EQ`)."""
    token: str
    name: str
    instrument_type: str
    lot_size: int

    @property
    def exchange_type(self) -> int | None:
        """The WebSocket exchangeType of its segment (None: not streamable)."""
        return EXCHANGE_TYPES.get(self.exchange)


def our_symbol(exchange: str, tradingsymbol: str) -> str:
    """The system's name of an Angel trading symbol."""
    if exchange == "NSE" and tradingsymbol.endswith(EQ_SUFFIX):
        return tradingsymbol[:-len(EQ_SUFFIX)]
    return tradingsymbol


def parse(raw: bytes) -> list[AngelInstrument]:
    """The rows of a master; InstrumentMasterInvalid if it is not one."""
    try:
        rows = msgspec.json.decode(raw, type=list[_Row])
    except msgspec.DecodeError as exc:  # also every ValidationError
        raise InstrumentMasterInvalid(f"scrip master is not Angel's JSON: {exc}") from exc
    out: list[AngelInstrument] = []
    for index, row in enumerate(rows):
        token = str(row.token).strip()
        if not token.isdigit() or not row.symbol or not row.exch_seg:
            raise InstrumentMasterInvalid(f"scrip master row {index}: empty or bad key field")
        try:
            lot = int(float(row.lotsize or 1))
        except ValueError as exc:
            raise InstrumentMasterInvalid(f"scrip master row {index}: {exc}") from exc
        out.append(AngelInstrument(
            exchange=row.exch_seg, symbol=our_symbol(row.exch_seg, row.symbol),
            tradingsymbol=row.symbol, token=token, name=row.name,
            instrument_type=row.instrumenttype, lot_size=lot))
    return out


class AngelInstruments:
    """The process's Angel master, shared by every Angel account (it is the same file)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._store: InstrumentStore[AngelInstrument, TokenKey] = InstrumentStore(
            instrument=lambda r: (r.exchange, r.symbol), token=lambda r: (r.exchange, r.token))

    @property
    def snapshot(self) -> Snapshot[AngelInstrument, TokenKey] | None:
        """The master in use."""
        return self._store.snapshot

    def load(self, raw: bytes) -> Snapshot[AngelInstrument, TokenKey]:
        """Parse, validate and swap in a master (InstrumentMasterInvalid keeps the old)."""
        return self._store.swap(parse(raw), loaded_at=self._clock.now())

    async def ensure(self, download: Callable[[], Awaitable[bytes]], *,
                     force: bool = False) -> None:
        """Download a master unless today's (IST) is loaded (`force`: download anyway)."""
        async def fetch() -> list[AngelInstrument]:
            return parse(await download())

        stale = (lambda _: True) if force else self._stale
        await self._store.refresh(fetch, loaded_at=self._clock.now, stale=stale)

    def get(self, exchange: str, symbol: str) -> AngelInstrument | None:
        """The instrument `EXCHANGE:SYMBOL` (our name), None if not listed."""
        return self._store.get(exchange, symbol)

    def by_token(self, exchange: str, token: str) -> AngelInstrument | None:
        """The instrument of an exchange's symboltoken, None if unknown."""
        return self._store.by_token((exchange, token))

    def _stale(self, snapshot: Snapshot[AngelInstrument, TokenKey]) -> bool:
        today = self._clock.now().astimezone(IST).date()
        return snapshot.loaded_at.astimezone(IST).date() < today
