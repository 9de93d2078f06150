"""What the Fyers data socket sends us, decoded to what a Tick needs.

Layouts from fyers-apiv3 3.2.0 FyersWebsocket/data_ws.py (`__response_msg`, `__auth_resp`,
`__subscribe_resp`, `__lite_full_mode_resp`, `__datafeed_resp`, `parse_custom_message`),
big-endian. Byte 2 of a frame is the response type:

    1   auth: field 1 is "K" on success; field 2 a u32 ack count (0: no acks wanted)
    4/5 subscribe / unsubscribe: byte 7 is "K" on success
    12  mode: field 1 is "K" on success
    51  custom message: i32 code (field 1), UTF-8 text (2), related request type (3)
    6   data: u32 message number [3:7], u16 record count [7:9], records from 9

Records are stateful: a snapshot names a topic and its scale, later updates refer to it by
a u16 topic id.

    83 'S' snapshot  u16 id, u8 + topic name, u8 n + n * i32 values, 2 bytes, u16
                     multiplier, u8 precision, 3 * (u8 + text): exchange, token, symbol
    85 'U' update    u16 id, u8 n + n * i32 values (INT32_MIN: unchanged / absent)
    76 'L' lite      u16 id, i32 LTP (no time: the tick is stamped when received)

Value order for "sf" topics: ltp, vol_traded_today, last_traded_time, exch_feed_time,
...(21, map.json `data_val`); for "if" (indices): ltp, prev_close_price, exch_feed_time,
... (map.json `index_val`); "dp" (depth) carries no LTP. A price is raw / (10^precision
* multiplier) rupees. The SDK reads the topic id in native byte order; it is only a key,
so any consistent order works. A record that runs past its frame, an unknown record
type, or an update for a topic never snapshotted is malformed: the rest of the frame is
skipped and counted, never guessed at.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

AUTH: Final = 1
SUBSCRIBE: Final = 4
UNSUBSCRIBE: Final = 5
DATA: Final = 6
MODE: Final = 12
CUSTOM: Final = 51
SNAPSHOT: Final = 83
UPDATE: Final = 85
LITE: Final = 76
ABSENT: Final = -(2**31)
_TIME_AT: Final = {"sf": 3, "if": 2}
"""Index of exch_feed_time (epoch seconds) among a topic's values, by topic kind."""


class Malformed(ValueError):
    """A frame or record that does not follow the layout."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One instrument's last price."""

    topic: str
    ltp_paise: int
    exchange_ts_s: int | None


@dataclass(frozen=True, slots=True)
class Control:
    """A non-data message: an answer to auth, subscribe, mode, or a custom message."""

    kind: int
    ok: bool
    code: int = 0
    message: str = ""
    ack_count: int = 0


@dataclass
class _Topic:
    name: str
    values: list[int | None]
    multiplier: int
    precision: int


@dataclass
class Decoded:
    """What one frame held."""

    packets: list[Packet] = field(default_factory=list)
    control: Control | None = None
    malformed: int = 0
    message_number: int | None = None


class _Reader:
    def __init__(self, data: bytes, at: int = 0) -> None:
        self.data = data
        self.at = at

    def take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise Malformed("record runs past the frame")
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return int(value)

    def text(self, length: int) -> str:
        if self.at + length > len(self.data):
            raise Malformed("text runs past the frame")
        value = self.data[self.at:self.at + length].decode("utf-8", errors="replace")
        self.at += length
        return value


def to_paise(raw: int, precision: int, multiplier: int) -> int:
    """raw / (10^precision * multiplier) rupees in integer paise, half up."""
    scale: int = 10 ** precision * multiplier
    return (raw * 200 + scale) // (2 * scale)


class Decoder:
    """Decodes one connection's frames (topics live as long as the connection)."""

    def __init__(self) -> None:
        self._topics: dict[int, _Topic] = {}

    def reset(self) -> None:
        """Forget every topic (a new connection snapshots them again)."""
        self._topics.clear()

    def feed(self, frame: bytes) -> Decoded:
        """Decode one frame."""
        out = Decoded()
        if len(frame) < 3:
            out.malformed = 1
            return out
        kind = frame[2]
        try:
            if kind == DATA:
                self._data(frame, out)
            elif kind in (AUTH, SUBSCRIBE, UNSUBSCRIBE, MODE, CUSTOM):
                out.control = _control(kind, frame)
        except Malformed:
            out.malformed += 1
        return out

    def _data(self, frame: bytes, out: Decoded) -> None:
        reader = _Reader(frame, 3)
        out.message_number = reader.take(">I")
        for _ in range(reader.take(">H")):
            packet = self._record(reader)
            if packet is not None and packet.ltp_paise > 0:
                out.packets.append(packet)

    def _record(self, reader: _Reader) -> Packet | None:
        kind = reader.take(">B")
        topic_id = reader.take(">H")
        if kind == SNAPSHOT:
            name = reader.text(reader.take(">B"))
            values = [reader.take(">i") for _ in range(reader.take(">B"))]
            reader.at += 2
            multiplier, precision = reader.take(">H"), reader.take(">B")
            for _ in range(3):  # exchange, exchange token, symbol: the topic says enough
                reader.text(reader.take(">B"))
            if multiplier <= 0:
                raise Malformed(f"topic {name}: multiplier 0")
            fresh = _Topic(name, [None if v == ABSENT else v for v in values], multiplier,
                           precision)
            self._topics[topic_id] = fresh
            return _packet(fresh)
        topic = self._topics.get(topic_id)
        if topic is None or kind not in (UPDATE, LITE):
            raise Malformed(f"record type {kind} for topic id {topic_id}")
        count = 1 if kind == LITE else reader.take(">B")
        for index in range(count):
            value = reader.take(">i")
            if value != ABSENT and index < len(topic.values):
                topic.values[index] = value
        packet = _packet(topic)
        if kind == LITE and packet is not None:  # the time kept is the snapshot's, not this
            return Packet(packet.topic, packet.ltp_paise, None)
        return packet


def _packet(topic: _Topic) -> Packet | None:
    kind = topic.name[:2]
    if kind not in _TIME_AT or not topic.values or topic.values[0] is None:
        return None
    time_at = _TIME_AT[kind]
    ts = topic.values[time_at] if time_at < len(topic.values) else None
    return Packet(topic.name, to_paise(topic.values[0], topic.precision, topic.multiplier),
                  ts or None)


def _control(kind: int, frame: bytes) -> Control:
    if kind in (SUBSCRIBE, UNSUBSCRIBE):
        if len(frame) < 8:
            raise Malformed("short subscribe answer")
        return Control(kind, frame[7:8] == b"K")
    reader = _Reader(frame, 3)
    fields: dict[int, bytes] = {}
    for _ in range(reader.take(">B")):
        field_id, length = reader.take(">B"), reader.take(">H")
        if reader.at + length > len(frame):
            raise Malformed("field runs past the frame")
        fields[field_id] = frame[reader.at:reader.at + length]
        reader.at += length
    if kind == CUSTOM:
        code = struct.unpack(">i", fields[1])[0] if len(fields.get(1, b"")) == 4 else 0
        return Control(kind, False, code, fields.get(2, b"").decode("utf-8", "replace"))
    ok = fields.get(1) == b"K"
    acks = fields.get(2, b"")
    return Control(kind, ok, ack_count=struct.unpack(">I", acks)[0] if len(acks) == 4 else 0)
