"""What we send on the Fyers data socket (the "HSM" binary protocol), one function each.

Layouts from fyers-apiv3 3.2.0 fyers_apiv3/FyersWebsocket/data_ws.py (`__access_token_msg`,
`__lite_mode_msg`, `__full_mode_msg`, `__subscription_msg`, `__unsubscription_msg`,
`__ackowledgement_msg`, `__ping`), checked byte for byte against the SDK's own output in
tests/test_fyers_sdk.py. Every message is one binary WebSocket frame, big-endian: u16
length of what follows, u8 request type, u8 field count, then fields of u8 id + u16 length
+ value. The SDK's subscribe length is miscounted (it adds the token's length); ours is
the true one, which a server that ignores the field (it must, for the SDK) accepts too.
"""

from __future__ import annotations

import struct
from typing import Final

AUTH: Final = 1
ACK: Final = 3
SUBSCRIBE: Final = 4
UNSUBSCRIBE: Final = 5
MODE: Final = 12
CHANNEL: Final = 11
"""The SDK's default channel; we use only this one."""
LITE: Final = ord("L")
FULL: Final = ord("F")
SOURCE: Final = "PythonSDK-3.2.0"
"""The client name field of the auth message. It is what Fyers' own SDK sends; whether the
server accepts any other value is not known, so we send the one known to work."""
PING: Final = bytes([0, 1, 11])
"""The SDK's keep-alive, sent every 10 s."""
PING_INTERVAL_S: Final = 10.0
BATCH: Final = 1500
"""Topics per subscribe message (the SDK's chunk size)."""


def _field(field_id: int, value: bytes) -> bytes:
    return struct.pack(">BH", field_id, len(value)) + value


def _message(request: int, fields: list[bytes], *, length: int | None = None) -> bytes:
    body = struct.pack(">BB", request, len(fields)) + b"".join(fields)
    return struct.pack(">H", len(body) if length is None else length) + body


def auth(hsm_key: str, source: str = SOURCE) -> bytes:
    """Authenticate with the access token's hsm_key (mode "P", then 0x01 and the source)."""
    return _message(AUTH, [_field(1, hsm_key.encode()), _field(2, b"P"),
                           _field(3, b"\x01"), _field(4, source.encode())])


def mode(*, lite: bool, channel: int = CHANNEL) -> bytes:
    """Lite (LTP only) or full mode for a channel; the SDK sends length 0 here."""
    bits = struct.pack(">Q", 1 << channel)
    return _message(MODE, [_field(1, bits), _field(2, bytes([LITE if lite else FULL]))],
                    length=0)


def _topics(topics: list[str]) -> bytes:
    out = struct.pack(">H", len(topics))
    for topic in topics:
        raw = topic.encode("ascii")
        out += struct.pack(">B", len(raw)) + raw
    return out


def subscribe(topics: list[str], channel: int = CHANNEL) -> bytes:
    """Subscribe topics ("sf|nse_cm|2885") on a channel; at most BATCH per message."""
    return _message(SUBSCRIBE, [_field(1, _topics(topics)), _field(2, bytes([channel]))])


def unsubscribe(topics: list[str], channel: int = CHANNEL) -> bytes:
    """Unsubscribe topics."""
    return _message(UNSUBSCRIBE, [_field(1, _topics(topics)), _field(2, bytes([channel]))])


def acknowledge(message_number: int) -> bytes:
    """Acknowledge data message `message_number` (only when the server asked for acks)."""
    return _message(ACK, [_field(1, struct.pack(">I", message_number))])


def batches(topics: list[str]) -> list[list[str]]:
    """Topics split into subscribe-sized chunks."""
    return [topics[i:i + BATCH] for i in range(0, len(topics), BATCH)]
