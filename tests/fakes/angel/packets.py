"""SmartWebSocket v2 frames, built from the documented layout (SmartAPI docs "WebSocket
Streaming 2.0"): little-endian, one instrument per binary frame; prices in paise."""

from __future__ import annotations

import struct
from dataclasses import dataclass

LTP, QUOTE, SNAP_QUOTE = 1, 2, 3


@dataclass(frozen=True)
class Quote:
    """What the fake knows about one instrument at one instant."""

    exchange_type: int
    token: str
    ltp: int
    exchange_ts_ms: int = 0
    sequence: int = 1
    last_qty: int = 1
    volume: int = 0


def frame(quote: Quote, mode: int) -> bytes:
    """One frame of `mode` (LTP 51 bytes, Quote 123, SnapQuote 379)."""
    out = struct.pack("<BB25sqqq", mode, quote.exchange_type, quote.token.encode(),
                      quote.sequence, quote.exchange_ts_ms, quote.ltp)
    if mode == LTP:
        return out
    out += struct.pack("<qqqddqqqq", quote.last_qty, quote.ltp, quote.volume, 100.0, 120.0,
                       quote.ltp, quote.ltp, quote.ltp, quote.ltp)
    if mode == QUOTE:
        return out
    out += struct.pack("<qqq", quote.exchange_ts_ms, 0, 0)
    depth = b"".join(struct.pack("<HqqH", 1 if i < 5 else 0, 10 * (i + 1),
                                 quote.ltp + (i - 5) * 5, i + 1) for i in range(10))
    return out + depth + struct.pack("<qqqq", quote.ltp * 2, quote.ltp // 2, quote.ltp,
                                     quote.ltp)


GARBAGE = b"\x09\x01garbage"
"""Not a frame of any mode."""
