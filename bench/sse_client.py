"""A lean SSE client for the fan-out benchmark: raw asyncio protocol, chunked decoding,
frame splitting, one msgspec decode per frame (httpx would measure itself at 2,000
connections on a shared 2-core machine)."""

from __future__ import annotations

import asyncio
import time

import msgspec


class _Data(msgspec.Struct):
    pub_ns: int = 0


class _Envelope(msgspec.Struct):
    id: str
    data: _Data


_decode = msgspec.json.Decoder(_Envelope).decode


class SseConnection(asyncio.Protocol):
    """One SSE GET; records (event id, publish→receive ns) of every event."""

    def __init__(self, request: bytes) -> None:
        self._request = request
        self._raw = b""
        self._body = b""
        self._headers_done = False
        self._chunk_left = -1
        self.opened = asyncio.get_running_loop().create_future()
        self.status = 0
        self.received: list[str] = []
        self.latencies_ns: list[int] = []
        self.closed = False
        self.error = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the request."""
        transport.write(self._request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        """Remember that the server (or the network) closed the stream."""
        self.closed = True
        if not self.opened.done():
            self.opened.set_result(False)

    def data_received(self, data: bytes) -> None:
        """Decode chunks, split events, time each one."""
        now = time.time_ns()
        self._raw += data
        if not self._headers_done:
            head, sep, rest = self._raw.partition(b"\r\n\r\n")
            if not sep:
                return
            self.status = int(head.split(b" ", 2)[1])
            self._headers_done = True
            self._raw = rest
            if self.status != 200:
                self.error = (head + b"\n" + rest)[:500].decode(errors="replace")
                self.opened.set_result(False)
                return
        self._dechunk()
        while True:
            frame, sep, rest = self._body.partition(b"\n\n")
            if not sep:
                break
            self._body = rest
            self._frame(frame, now)

    def _dechunk(self) -> None:
        while True:
            if self._chunk_left < 0:
                line, sep, rest = self._raw.partition(b"\r\n")
                if not sep:
                    return
                self._chunk_left = int(line.split(b";")[0], 16)
                self._raw = rest
            if len(self._raw) < self._chunk_left + 2:
                return
            self._body += self._raw[:self._chunk_left]
            self._raw = self._raw[self._chunk_left + 2:]
            self._chunk_left = -1

    def _frame(self, frame: bytes, now: int) -> None:
        if frame.startswith(b":") or frame.startswith(b"retry"):
            if not self.opened.done():
                self.opened.set_result(self.status == 200)
            return
        at = frame.find(b"\ndata: ")
        if at < 0:
            return
        event = _decode(frame[at + 7:])
        self.received.append(event.id)
        self.latencies_ns.append(now - event.data.pub_ns)


async def open_sse(host: str, port: int, path: str, token: str) -> SseConnection:
    """Connect and send the GET; await `.opened` for the stream's first bytes."""
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: SseConnection(request), host, port)
    return protocol
