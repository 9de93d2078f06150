"""The fake Fyers data socket's frames, both ways, built from the layouts in PROTOCOLS.md
§3.6 (verified there against fyers-apiv3 3.2.0 FyersWebsocket/data_ws.py); big-endian."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

ABSENT: Final = -(2**31)
SF_FIELDS: Final = 21
"""ltp, vol_traded_today, last_traded_time, exch_feed_time, ... prev_close_price."""


@dataclass(frozen=True)
class ClientMessage:
    """One binary message from a client: its request type and fields by id."""

    kind: int
    fields: dict[int, bytes]


def parse_client(frame: bytes) -> ClientMessage | None:
    """Decode a client message by its structure; the u16 length is not trusted (the SDK's
    subscribe length is wrong). None for the 3-byte ping or garbage."""
    if len(frame) < 4:
        return None
    at, fields = 4, {}
    for _ in range(frame[3]):
        if at + 3 > len(frame):
            return None
        field_id, length = frame[at], struct.unpack_from(">H", frame, at + 1)[0]
        at += 3
        if at + length > len(frame):
            return None
        fields[field_id] = frame[at:at + length]
        at += length
    return ClientMessage(frame[2], fields)


def topics_of(field: bytes) -> list[str]:
    """The topic names of a subscribe field: u16 count, then (u8 len + ASCII) each."""
    (count,), at, out = struct.unpack_from(">H", field, 0), 2, []
    for _ in range(count):
        length = field[at]
        out.append(field[at + 1:at + 1 + length].decode("ascii"))
        at += 1 + length
    return out


def _fields(kind: int, fields: list[tuple[int, bytes]]) -> bytes:
    body = bytes([kind, len(fields)])
    for field_id, value in fields:
        body += struct.pack(">BH", field_id, len(value)) + value
    return struct.pack(">H", len(body)) + body


def auth_answer(ok: bool, ack_count: int = 0) -> bytes:
    """Type 1: "K" on success, then the ack count (0: the client sends no acks)."""
    return _fields(1, [(1, b"K" if ok else b"E"), (2, struct.pack(">I", ack_count))])


def sub_answer(kind: int, ok: bool) -> bytes:
    """Type 4/5: byte 7 is "K" on success."""
    return _fields(kind, [(1, b"K" if ok else b"E")])


def mode_answer(ok: bool) -> bytes:
    """Type 12."""
    return _fields(12, [(1, b"K" if ok else b"E")])


def custom_message(code: int, message: str, ref_type: int = 0) -> bytes:
    """Type 51: a code, a text and the request type it refers to."""
    return _fields(51, [(1, struct.pack(">i", code)), (2, message.encode()),
                        (3, bytes([ref_type]))])


def snapshot(topic_id: int, topic: str, values: list[int], *, multiplier: int = 1,
             precision: int = 2, exchange: str = "NSE", token: str = "",
             symbol: str = "") -> bytes:
    """Record 83: names a topic and its scale, with every value."""
    name = topic.encode()
    out = struct.pack(">BHB", 83, topic_id, len(name)) + name
    out += struct.pack(">B", len(values)) + b"".join(struct.pack(">i", v) for v in values)
    out += b"\x00\x00" + struct.pack(">HB", multiplier, precision)
    for text in (exchange, token, symbol):
        out += struct.pack(">B", len(text.encode())) + text.encode()
    return out


def full_update(topic_id: int, values: list[int]) -> bytes:
    """Record 85: the topic's values, ABSENT where unchanged."""
    return struct.pack(">BHB", 85, topic_id, len(values)) + b"".join(
        struct.pack(">i", v) for v in values)


def lite_update(topic_id: int, ltp: int) -> bytes:
    """Record 76: the LTP only."""
    return struct.pack(">BHi", 76, topic_id, ltp)


def data(message_number: int, records: list[bytes]) -> bytes:
    """Type 6: a message number, a record count, the records."""
    body = bytes([6]) + struct.pack(">IH", message_number, len(records)) + b"".join(records)
    return struct.pack(">H", len(body)) + body


def sf_values(ltp: int, *, exch_time: int) -> list[int]:
    """A SymbolUpdate snapshot's 21 values around an LTP (raw units)."""
    values = [ABSENT] * SF_FIELDS
    values[0], values[1], values[2], values[3] = ltp, 1000, exch_time, exch_time
    values[20] = ltp  # prev_close_price
    return values


MALFORMED: Final = data(1, []) [:3] + b"\x00\x00\x00\x01\x00\x05" + b"\x55\x00"
"""A data frame announcing five records that holds half of one."""
