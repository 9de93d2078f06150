"""The fake SmartWebSocket v2 (a `websockets` server): the four auth headers checked at the
handshake (401 with `x-error-message` otherwise; `Authorization` with or without
`Bearer `), JSON subscribe / unsubscribe, binary frames in each subscription's mode, text
`pong` to a text `ping` (WebSocket ping frames are answered by the library), JSON text
errors for bad requests, and switches to drop every socket or send a malformed frame."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.fakes.angel.book import AngelBook
from tests.fakes.angel.packets import GARBAGE, Quote, frame
from tests.fakes.server import SocketServer, abort, send

Key = tuple[int, str]


@dataclass
class Subscriber:
    """One client connection and what it asked for."""

    ws: ServerConnection
    modes: dict[Key, int] = field(default_factory=dict)
    received: list[Any] = field(default_factory=list)


class FakeFeed:
    """The WebSocket half of the fake."""

    def __init__(self, book: AngelBook) -> None:
        self._book = book
        self._server = SocketServer()
        self.subscribers: list[Subscriber] = []
        self.handshakes: list[dict[str, str]] = []
        self.refused = 0
        self.accepted = 0
        self.malformed_next = 0
        self.pings = 0
        """Text `ping` heartbeats answered."""

    async def start(self) -> int:
        """Listen on an ephemeral loopback port; returns it."""
        return await self._server.start(self._serve, process_request=self._check)

    async def stop(self) -> None:
        """Close every connection and the listener."""
        await self._server.stop()

    def subscribed(self, key: Key) -> bool:
        """True once some connection wants this (exchangeType, token)."""
        return any(key in s.modes for s in self.subscribers)

    async def push(self, quote: Quote) -> int:
        """Send the quote to every connection subscribed to it; returns how many."""
        sent = 0
        for sub in list(self.subscribers):
            mode = sub.modes.get((quote.exchange_type, quote.token))
            if mode is None:
                continue
            data = frame(quote, mode)
            if self.malformed_next:
                self.malformed_next -= 1
                data = GARBAGE
            if await send(sub.ws, data):
                sent += 1
        return sent

    async def send_raw(self, data: bytes | str) -> None:
        """Send anything to everyone."""
        for sub in list(self.subscribers):
            await send(sub.ws, data)

    def drop_all(self) -> None:
        """Cut every connection without a close handshake (a network drop)."""
        abort(s.ws for s in self.subscribers)

    def _check(self, connection: ServerConnection, req: Request) -> Response | None:
        headers = {k.lower(): req.headers.get(k, "") for k in
                   ("Authorization", "x-api-key", "x-client-code", "x-feed-token")}
        self.handshakes.append(headers)
        jwt = headers["authorization"].removeprefix("Bearer ").strip()
        if (jwt not in self._book.jwts or headers["x-api-key"] != self._book.api_key
                or headers["x-client-code"] != self._book.client_code
                or headers["x-feed-token"] not in self._book.feed_tokens):
            self.refused += 1
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["x-error-message"] = "Invalid Header - Invalid Auth token"
            return response
        self.accepted += 1
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        sub = Subscriber(ws)
        self.subscribers.append(sub)
        try:
            async for message in ws:
                if message == "ping":
                    self.pings += 1
                    await ws.send("pong")
                elif isinstance(message, str):
                    error = self._handle(sub, message)
                    if error is not None:
                        await ws.send(json.dumps(error))
        except ConnectionClosed:
            pass
        finally:
            self.subscribers.remove(sub)

    @staticmethod
    def _handle(sub: Subscriber, message: str) -> dict[str, str] | None:
        try:
            request = json.loads(message)
            action, params = int(request["action"]), request["params"]
            mode = int(params["mode"])
            pairs = [(int(group["exchangeType"]), str(token))
                     for group in params["tokenList"] for token in group["tokens"]]
        except (ValueError, KeyError, TypeError):
            return {"correlationID": "", "errorCode": "E1001",
                    "errorMessage": "Invalid Request Payload."}
        sub.received.append(request)
        for key in pairs:
            if action == 1:
                sub.modes[key] = mode
            elif action == 0:
                sub.modes.pop(key, None)
        return None
