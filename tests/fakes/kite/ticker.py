"""The fake Kite ticker (a `websockets` server): `?api_key=&access_token=` checked at the
handshake (403 otherwise), JSON subscribe / unsubscribe / mode messages, binary tick
frames in each connection's mode, 1-byte heartbeats, and switches to drop every socket
or send a malformed frame in place of the next tick."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.fakes.kite.book import KiteBook
from tests.fakes.kite.packets import HEARTBEAT, MALFORMED, Quote, frame, packet
from tests.fakes.server import SocketServer, abort, send


@dataclass
class Subscriber:
    """One client connection and what it asked for."""

    ws: ServerConnection
    modes: dict[int, str] = field(default_factory=dict)
    """instrument_token → mode."""
    received: list[dict[str, object]] = field(default_factory=list)


class FakeTicker:
    """The WebSocket half of the fake."""

    def __init__(self, book: KiteBook) -> None:
        self._book = book
        self._server = SocketServer()
        self.subscribers: list[Subscriber] = []
        self.handshakes: list[dict[str, str]] = []
        self.refused = 0
        self.accepted = 0
        """Connections opened (a client that reconnects counts again)."""
        self.malformed_next = 0
        """The next this many `push()`es send a malformed frame instead of the tick."""

    async def start(self) -> int:
        """Listen on an ephemeral loopback port; returns it."""
        return await self._server.start(self._serve, process_request=self._check)

    async def stop(self) -> None:
        """Close every connection and the listener."""
        await self._server.stop()

    def subscribed(self, token: int) -> bool:
        """True once some connection wants this token."""
        return any(token in s.modes for s in self.subscribers)

    async def push(self, quote: Quote) -> int:
        """Send the quote to every connection subscribed to it; returns how many.
        With `malformed_next` armed, a garbage frame goes out in its place."""
        garbage = self.malformed_next > 0
        if garbage:
            self.malformed_next -= 1
        sent = 0
        for sub in list(self.subscribers):
            mode = sub.modes.get(quote.token)
            if mode is None:
                continue
            if await send(sub.ws, MALFORMED if garbage else frame([packet(quote, mode)])):
                sent += 1
        return sent

    async def send_raw(self, data: bytes | str) -> None:
        """Send anything (a heartbeat, a malformed frame, a text message) to everyone."""
        for sub in list(self.subscribers):
            await send(sub.ws, data)

    async def heartbeat(self) -> None:
        """Kite's 1-byte keep-alive."""
        await self.send_raw(HEARTBEAT)

    def drop_all(self) -> None:
        """Cut every connection without a close handshake (a network drop)."""
        abort(s.ws for s in self.subscribers)

    def _check(self, connection: ServerConnection, req: Request) -> Response | None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(req.path).query).items()}
        self.handshakes.append({**query, "x-kite-version": req.headers.get("X-Kite-Version",
                                                                           "")})
        if (query.get("api_key") != self._book.api_key
                or query.get("access_token") not in self._book.access_tokens):
            self.refused += 1
            return connection.respond(HTTPStatus.FORBIDDEN, "Invalid access token\n")
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        sub = Subscriber(ws)
        self.subscribers.append(sub)
        self.accepted += 1
        try:
            async for message in ws:
                if isinstance(message, str):
                    self._handle(sub, message)
        except ConnectionClosed:
            pass
        finally:
            self.subscribers.remove(sub)

    @staticmethod
    def _handle(sub: Subscriber, message: str) -> None:
        try:
            request = json.loads(message)
            action, value = request["a"], request["v"]
        except (ValueError, KeyError, TypeError):
            return
        sub.received.append(request)
        if action == "subscribe":
            for token in value:
                sub.modes.setdefault(int(token), "quote")  # Kite's default mode
        elif action == "unsubscribe":
            for token in value:
                sub.modes.pop(int(token), None)
        elif action == "mode":
            mode, tokens = value
            for token in tokens:
                if int(token) in sub.modes:
                    sub.modes[int(token)] = mode
