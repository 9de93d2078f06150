"""The fake's `OpenAPIScripMaster.json`: a JSON array in Angel's shape (SmartAPI docs,
"Instruments"; every value a string, strike and tick size in paise). RELIANCE 2885,
SBIN 3045 and INFY 1594 are the NSE exchange tokens every broker uses."""

from __future__ import annotations

import json
from typing import Any, Final

_EQ: Final = [("2885", "RELIANCE", "RELIANCE"), ("3045", "SBIN", "SBIN"),
              ("1594", "INFY", "INFY"), ("11536", "TCS", "TCS"), ("1333", "HDFCBANK", "HDFCBANK"),
              ("4963", "ICICIBANK", "ICICIBANK"), ("1660", "ITC", "ITC"),
              ("3456", "TATAMOTORS", "TATAMOTORS"), ("10999", "MARUTI", "MARUTI"),
              ("317", "BAJFINANCE", "BAJFINANCE")]


def _row(token: str, symbol: str, name: str, exch_seg: str = "NSE", *,
         instrumenttype: str = "", expiry: str = "", strike: str = "-1.000000",
         lotsize: str = "1", tick_size: str = "5.000000") -> dict[str, Any]:
    return {"token": token, "symbol": symbol, "name": name, "expiry": expiry,
            "strike": strike, "lotsize": lotsize, "instrumenttype": instrumenttype,
            "exch_seg": exch_seg, "tick_size": tick_size}


def rows() -> list[dict[str, Any]]:
    """Every instrument of the fake exchange."""
    out = [_row(token, f"{symbol}-EQ", name) for token, symbol, name in _EQ]
    out += [_row("500325", "RELIANCE", "RELIANCE", "BSE"),
            _row("500112", "SBIN", "SBIN", "BSE"),
            _row("99926000", "Nifty 50", "NIFTY", instrumenttype="AMXIDX", tick_size="0.000000"),
            _row("14366", "IDEA-BE", "IDEA"),
            _row("35003", "NIFTY25DEC2524000CE", "NIFTY", "NFO", instrumenttype="OPTIDX",
                 expiry="25DEC2025", strike="2400000.000000", lotsize="75"),
            _row("1147", "USDINR25DECFUT", "USDINR", "CDS", instrumenttype="FUTCUR",
                 expiry="26DEC2025", tick_size="0.250000")]
    return out


def master_json() -> bytes:
    """The master as served."""
    return json.dumps(rows()).encode()


def corrupt_json() -> bytes:
    """A download that broke off a third of the way in."""
    raw = master_json()
    return raw[: len(raw) // 3]


def listing() -> dict[tuple[str, str], dict[str, Any]]:
    """(exch_seg, Angel symbol) → row."""
    return {(r["exch_seg"], r["symbol"]): r for r in rows()}


MASTER_ROWS: Final = len(_EQ) + 6
"""How many instruments `rows()` lists."""
