"""The Kite ticker's binary frames, parsed to what a Tick needs.

Layout (zerodha/pykiteconnect kiteconnect/ticker.py `_split_packets`, `_parse_binary`),
big-endian: a frame is uint16 N, then N times (uint16 length, packet). Every packet starts
with uint32 instrument_token and uint32 last price; its length gives its mode:

    8    LTP mode
    28   index quote (token, ltp, high, low, open, close, change)
    32   index full (the same + exchange timestamp at 28)
    44   quote mode (ltp, last qty, avg price, volume, buy/sell qty, open, high, low, close)
    184  full mode (quote + last trade time 44, OI 48..60, exchange timestamp 60, depth)

Prices are integers in the segment's unit: paise for every segment but currency, where
CDS (segment 3) counts 1e-7 rupee and BCD (6) 1e-4 rupee (segment = token & 0xFF). A
frame shorter than 2 bytes is a heartbeat. A packet of another length, or a frame whose
lengths run past its end, is malformed: it is skipped and counted, never guessed at.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

SEGMENT_CDS: Final = 3
SEGMENT_BCD: Final = 6
_RAW_PER_PAISA: Final = {SEGMENT_CDS: 100_000, SEGMENT_BCD: 100}
"""Raw price units per paisa where they are not paise (1e7 and 1e4 per rupee)."""
_TIMESTAMP_AT: Final = {32: 28, 184: 60}
"""Offset of the exchange timestamp (epoch seconds) by packet length."""
_MODES: Final = {8: "ltp", 28: "quote", 32: "full", 44: "quote", 184: "full"}

_U16: Final = struct.Struct(">H")
_HEAD: Final = struct.Struct(">II")
_U32: Final = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class Packet:
    """One instrument's update."""

    token: int
    ltp_paise: int
    mode: str
    exchange_ts_s: int | None
    """Exchange timestamp, epoch seconds (full-mode packets only)."""


def to_paise(token: int, raw: int) -> int:
    """A raw ticker price in integer paise (currency prices rounded half up)."""
    per_paisa = _RAW_PER_PAISA.get(token & 0xFF)
    if per_paisa is None:
        return raw
    return (raw + per_paisa // 2) // per_paisa


def parse_frame(frame: bytes) -> tuple[list[Packet], int]:
    """The packets of one binary frame, and how many malformed ones were skipped."""
    if len(frame) < 2:
        return [], 0  # heartbeat
    (count,) = _U16.unpack_from(frame, 0)
    packets: list[Packet] = []
    malformed = 0
    at = 2
    for _ in range(count):
        if at + 2 > len(frame):
            return packets, malformed + 1
        (length,) = _U16.unpack_from(frame, at)
        at += 2
        if at + length > len(frame):
            return packets, malformed + 1  # the rest of the frame cannot be trusted
        packet = _packet(frame, at, length)
        at += length
        if packet is None:
            malformed += 1
        elif packet.ltp_paise > 0:  # a zero price means "no trade yet", never a price
            packets.append(packet)
    return packets, malformed


def _packet(frame: bytes, at: int, length: int) -> Packet | None:
    mode = _MODES.get(length)
    if mode is None:
        return None
    token, raw = _HEAD.unpack_from(frame, at)
    ts_at = _TIMESTAMP_AT.get(length)
    ts = _U32.unpack_from(frame, at + ts_at)[0] if ts_at is not None else None
    return Packet(token, to_paise(token, raw), mode, ts or None)
