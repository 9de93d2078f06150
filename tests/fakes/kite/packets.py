"""Kite ticker frames, built from the documented layout (Kite Connect v3 docs, WebSocket
streaming; zerodha/kiteconnect-mocks ticker_*.packet): big-endian, a frame is uint16
packet count then (uint16 length, packet) for each; prices are integer paise."""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Quote:
    """What the fake knows about one instrument at one instant."""

    token: int
    ltp: int
    last_qty: int = 1
    avg_price: int = 0
    volume: int = 0
    buy_qty: int = 0
    sell_qty: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    close: int = 0
    last_trade_ts: int = 0
    exchange_ts: int = 0


def packet(quote: Quote, mode: str) -> bytes:
    """One packet of `mode` (ltp: 8 bytes, quote: 44, full: 184)."""
    head = struct.pack(">ii", quote.token, quote.ltp)
    if mode == "ltp":
        return head
    body = head + struct.pack(">9i", quote.last_qty, quote.avg_price, quote.volume,
                              quote.buy_qty, quote.sell_qty, quote.open, quote.high,
                              quote.low, quote.close)
    if mode == "quote":
        return body
    body += struct.pack(">5i", quote.last_trade_ts, 0, 0, 0, quote.exchange_ts)
    depth = b"".join(struct.pack(">iiH2x", 10 * (i + 1), quote.ltp + (i - 5) * 5, i + 1)
                     for i in range(10))
    return body + depth


def frame(packets: list[bytes]) -> bytes:
    """A binary frame carrying `packets`."""
    out = struct.pack(">H", len(packets))
    for p in packets:
        out += struct.pack(">H", len(p)) + p
    return out


HEARTBEAT = b"\x00"

MALFORMED = struct.pack(">HH", 1, 7) + b"garbage"
"""A frame announcing one 7-byte packet: no Kite mode has that length."""
