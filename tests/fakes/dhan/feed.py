"""The fake Dhan live market feed (a `websockets` server).

The session travels in the URL (`?version=2&token=&clientId=&authType=2`). What the real
server does with a bad one is not documented; the fake accepts the socket, sends a
disconnect packet (807 for an expired token, 809 for an unknown one, 808 for another
client id) and closes, as Dhan's disconnect codes describe. JSON requests subscribe (15
ticker, 17 quote, 21 full), unsubscribe (16, 18, 22) or disconnect (12); binary client
frames (the SDK's v1 header on disconnect) are ignored. The server pings every 10 s.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tests.fakes.dhan import packets
from tests.fakes.dhan.book import DhanBook
from tests.fakes.server import SocketServer, abort, send

MODES = {15: "ticker", 17: "quote", 21: "full"}
BUILDERS = {"ticker": packets.ticker, "quote": packets.quote, "full": packets.full}


@dataclass
class Subscriber:
    """One client connection and what it asked for."""

    ws: ServerConnection
    modes: dict[tuple[str, int], str] = field(default_factory=dict)
    """(exchangeSegment, securityId) → mode."""
    received: list[dict[str, object]] = field(default_factory=list)


class FakeFeed:
    """The WebSocket half of the fake."""

    def __init__(self, book: DhanBook) -> None:
        self._book = book
        self._server = SocketServer()
        self.subscribers: list[Subscriber] = []
        self.handshakes: list[dict[str, str]] = []
        self.accepted = 0
        self.refused = 0
        self.malformed_next = 0
        """Ticks to send as garbage instead."""

    async def start(self) -> int:
        """Listen on an ephemeral loopback port; returns it."""
        return await self._server.start(self._serve, ping_interval=10)

    async def stop(self) -> None:
        """Close every connection and the listener."""
        await self._server.stop()

    def subscribed(self, segment: str, security_id: int) -> bool:
        """True once some connection wants this instrument."""
        return any((segment, security_id) in s.modes for s in self.subscribers)

    async def push(self, segment: str, security_id: int, ltp: float) -> int:
        """Send a price to every connection subscribed to it; returns how many."""
        sent = 0
        for sub in list(self.subscribers):
            mode = sub.modes.get((segment, security_id))
            if mode is None:
                continue
            if self.malformed_next:
                self.malformed_next -= 1
                data = packets.MALFORMED
            else:
                data = BUILDERS[mode](segment, security_id, ltp, int(time.time()))
            if await send(sub.ws, data):
                sent += 1
        return sent

    async def send_raw(self, data: bytes | str) -> None:
        """Send anything to every connection."""
        for sub in list(self.subscribers):
            await send(sub.ws, data)

    def drop_all(self) -> None:
        """Cut every connection without a close handshake (a network drop)."""
        abort(s.ws for s in self.subscribers)

    async def _serve(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = {k: v[0] for k, v in parse_qs(urlsplit(ws.request.path).query).items()}
        self.handshakes.append(query)
        reason = self._refusal(query)
        if reason is not None:
            self.refused += 1
            await send(ws, packets.disconnect(reason))
            await ws.close()
            return
        self.accepted += 1
        sub = Subscriber(ws)
        self.subscribers.append(sub)
        try:
            async for message in ws:
                if isinstance(message, str) and not await self._handle(sub, message):
                    break
        except ConnectionClosed:
            pass
        finally:
            self.subscribers.remove(sub)

    def _refusal(self, query: dict[str, str]) -> int | None:
        token = query.get("token")
        if query.get("version") != "2" or query.get("authType") != "2":
            return 809
        if token in self._book.expired_tokens:
            return 807
        if token not in self._book.access_tokens:
            return 809
        if query.get("clientId") != self._book.client_id:
            return 808
        return None

    async def _handle(self, sub: Subscriber, message: str) -> bool:
        """Apply one request; False when the client asked to disconnect."""
        try:
            request = json.loads(message)
            code = int(request["RequestCode"])
        except (ValueError, KeyError, TypeError):
            return True
        sub.received.append(request)
        if code == 12:
            await sub.ws.close()
            return False
        pairs = [(str(i["ExchangeSegment"]), int(i["SecurityId"]))
                 for i in request.get("InstrumentList", [])]
        if code in MODES:
            for pair in pairs:
                sub.modes[pair] = MODES[code]
                price = self._book.prices.get((pair[0], str(pair[1])))
                if price is not None:  # Dhan sends the previous close on any subscription
                    await send(sub.ws, packets.prev_close(pair[0], pair[1], float(price)))
        elif code - 1 in MODES:
            for pair in pairs:
                sub.modes.pop(pair, None)
        return True
