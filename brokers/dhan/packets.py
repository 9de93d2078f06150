"""Dhan live market feed (v2) binary packets, parsed to what a Tick needs.

Layout (dhan-oss/DhanHQ-py src/dhanhq/marketfeed.py `process_data` and its `process_*`
struct formats, @1670f81; docs v2, Live Market Feed), little-endian. Every packet starts
with an 8-byte header: u8 response code, u16 message length, u8 exchange segment (the
Annexure's number: NSE_EQ 1, ...), u32 security id. Then, by code:

    code  size  payload (offsets from the packet start)
    2     16    ticker: f32 LTP at 8, i32 last trade time (epoch s) at 12
    4     50    quote: f32 LTP 8, i16 LTQ 12, i32 LTT 14, ... open/close/high/low
    5     12    open interest
    6     16    previous close and previous OI (sent on subscribing)
    7     8     market status
    8     162   full: quote fields, OI, 5-level depth
    50    10    disconnect: u16 reason at 8 (805 too many connections, 806 no data plan,
                807 token expired, 808 invalid client id, 809 authentication failed)

Prices are float32 rupees; we round them to integer paise. The SDK decodes the first
packet of each frame only; we walk the frame by the sizes above, so a frame carrying
several packets parses too. A packet with an unknown code, or one cut short, is
malformed: it and the rest of its frame are skipped and counted, never guessed at.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Final

TICKER: Final = 2
QUOTE: Final = 4
FULL: Final = 8
DISCONNECT: Final = 50
SIZES: Final = {TICKER: 16, QUOTE: 50, 5: 12, 6: 16, 7: 8, FULL: 162, DISCONNECT: 10}
_LTT_AT: Final = {TICKER: 12, QUOTE: 14, FULL: 14}
"""Offset of the last trade time in the packets that carry a price."""

_HEAD: Final = struct.Struct("<BHBI")
_F32: Final = struct.Struct("<f")
_I32: Final = struct.Struct("<i")
_U16: Final = struct.Struct("<H")


@dataclass(frozen=True, slots=True)
class Packet:
    """One instrument's last traded price."""

    segment: int
    security_id: int
    ltp_paise: int
    last_trade_s: int | None


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one frame held."""

    packets: list[Packet]
    malformed: int = 0
    disconnect: int | None = None
    """The reason code of a disconnect packet, if one came."""


def to_paise(rupees: float) -> int:
    """A float32 rupee price in integer paise (nearest: the float is the exchange's
    two-decimal price rounded to 24 bits)."""
    return round(rupees * 100)


def parse_frame(frame: bytes) -> Parsed:
    """The priced packets of one binary frame, skipped malformed ones, and a disconnect."""
    packets: list[Packet] = []
    at = 0
    disconnect: int | None = None
    while at < len(frame):
        code = frame[at]
        size = SIZES.get(code)
        if size is None or at + size > len(frame):
            return Parsed(packets, 1, disconnect)
        _, _, segment, security_id = _HEAD.unpack_from(frame, at)
        if code == DISCONNECT:
            disconnect = _U16.unpack_from(frame, at + 8)[0]
        elif code in _LTT_AT:
            (ltp,) = _F32.unpack_from(frame, at + 8)
            ltt = _I32.unpack_from(frame, at + _LTT_AT[code])[0]
            # Zero means "no trade yet", never a price; NaN and inf are damage.
            if math.isfinite(ltp) and ltp > 0:
                packets.append(Packet(segment, security_id, to_paise(ltp), ltt or None))
        at += size
    return Parsed(packets, 0, disconnect)
