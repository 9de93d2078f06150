"""SmartWebSocket v2 binary frames, parsed to what a Tick needs.

Layout (angel-one/smartapi-python @ff60852 SmartApi/smartWebSocketV2.py
`_parse_binary_data`; SmartAPI docs "WebSocket Streaming 2.0"), little-endian, one
instrument per binary frame:

    0    u8     subscription mode (1 LTP, 2 Quote, 3 SnapQuote)
    1    u8     exchange type (1 nse_cm, 2 nse_fo, 3 bse_cm, ... 13 cde_fo)
    2    25 B   token, ASCII, NUL-padded
    27   i64    sequence number
    35   i64    exchange timestamp, epoch milliseconds
    43   i64    last traded price     (an LTP frame ends here: 51 bytes)
    ...         quote fields up to 123, SnapQuote fields up to 379

Prices are integers in paise, except currency (cde_fo, 13), where they count 1e-7 rupee.
A frame shorter than its mode's length, of an unknown mode, or whose token is not a
number, is malformed: it is skipped and counted, never guessed at.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

CDE_FO: Final = 13
_RAW_PER_PAISA: Final = {CDE_FO: 100_000}
"""Raw price units per paisa where they are not paise (1e7 per rupee)."""
_LENGTHS: Final = {1: 51, 2: 123, 3: 379}
"""The smallest frame of each subscription mode."""
_HEAD: Final = struct.Struct("<BB25sqqq")


@dataclass(frozen=True, slots=True)
class Packet:
    """One instrument's update."""

    mode: int
    exchange_type: int
    token: str
    exchange_ts_ms: int
    ltp_paise: int


def to_paise(exchange_type: int, raw: int) -> int:
    """A raw feed price in integer paise (currency prices rounded half up)."""
    per_paisa = _RAW_PER_PAISA.get(exchange_type)
    if per_paisa is None:
        return raw
    return (raw + per_paisa // 2) // per_paisa


def parse_frame(frame: bytes) -> Packet | None:
    """The packet of one binary frame; None if the frame is malformed."""
    if len(frame) < _HEAD.size:
        return None
    mode, exchange_type, raw_token, _sequence, ts_ms, ltp = _HEAD.unpack_from(frame)
    need = _LENGTHS.get(mode)
    token = raw_token.split(b"\0", 1)[0]
    if need is None or len(frame) < need or not token.isdigit():
        return None
    return Packet(mode, exchange_type, token.decode(), ts_ms, to_paise(exchange_type, ltp))
