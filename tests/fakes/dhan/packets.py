"""Dhan live-feed packets, built from the documented layout (Dhan docs v2, Live Market Feed;
the struct formats of dhan-oss/DhanHQ-py src/dhanhq/marketfeed.py): little-endian, an
8-byte header (u8 code, u16 length, u8 segment, u32 security id), float32 rupee prices."""

from __future__ import annotations

import struct
from typing import Final

SEGMENT_NUMBERS: Final = {"IDX_I": 0, "NSE_EQ": 1, "NSE_FNO": 2, "NSE_CURRENCY": 3,
                          "BSE_EQ": 4, "MCX_COMM": 5, "BSE_CURRENCY": 7, "BSE_FNO": 8}


def ticker(segment: str, security_id: int, ltp: float, ltt: int) -> bytes:
    """Response code 2: LTP and last trade time (16 bytes)."""
    return struct.pack("<BHBIfi", 2, 16, SEGMENT_NUMBERS[segment], security_id, ltp, ltt)


def prev_close(segment: str, security_id: int, close: float, oi: int = 0) -> bytes:
    """Response code 6, sent on subscribing (16 bytes)."""
    return struct.pack("<BHBIfi", 6, 16, SEGMENT_NUMBERS[segment], security_id, close, oi)


def quote(segment: str, security_id: int, ltp: float, ltt: int) -> bytes:
    """Response code 4 (50 bytes): LTP, LTQ, LTT, ATP, volume, sell/buy qty, OHLC."""
    return struct.pack("<BHBIfHIfIIIffff", 4, 50, SEGMENT_NUMBERS[segment], security_id, ltp,
                       1, ltt, ltp, 1000, 10, 10, ltp, ltp, ltp, ltp)


def full(segment: str, security_id: int, ltp: float, ltt: int) -> bytes:
    """Response code 8 (162 bytes): quote fields, OI, and five depth levels."""
    head = struct.pack("<BHBIfHIfIIIIIIffff", 8, 162, SEGMENT_NUMBERS[segment], security_id,
                       ltp, 1, ltt, ltp, 1000, 10, 10, 0, 0, 0, ltp, ltp, ltp, ltp)
    depth = b"".join(struct.pack("<IIHHff", 10, 10, 1, 1, ltp - 0.05 * (i + 1),
                                 ltp + 0.05 * (i + 1)) for i in range(5))
    return head + depth


def disconnect(reason: int) -> bytes:
    """Response code 50 (10 bytes): why the server closes the feed."""
    return struct.pack("<BHBIH", 50, 10, 0, 0, reason)


MALFORMED: Final = b"\x63\x10\x00garbage!"
"""A frame no layout describes (response code 99)."""
