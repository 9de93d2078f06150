"""Fill prices of the paper broker: the LTP moved against the order, on the exchange's tick."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from brokers.base import Side

TICK_PAISE: Final = 5
"""NSE's tick for equities: 0.05 rupee."""
_BPS: Final = Decimal(10_000)
_PAISE_PER_RUPEE: Final = Decimal(100)
_CENT: Final = Decimal("0.01")


def fill_price(ltp_paise: int, side: Side, slippage_bps: int) -> Decimal:
    """The fill price in rupees: BUY above the LTP, SELL below, rounded to the nearest tick."""
    sign = 1 if side is Side.BUY else -1
    exact = Decimal(ltp_paise) * (_BPS + sign * slippage_bps) / _BPS
    ticks = (exact / TICK_PAISE).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (ticks * TICK_PAISE / _PAISE_PER_RUPEE).quantize(_CENT)


def parse_paise(raw: str | bytes | None) -> int | None:
    """A price as the feed stores it in Redis (integer paise); None when absent or malformed."""
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None  # a garbled price is no price: the order is rejected, never mispriced
    return value if value > 0 else None
