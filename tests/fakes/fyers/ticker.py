"""The fake Fyers data socket (a `websockets` server speaking HSM binary): no credentials in
the handshake; the auth message's hsm_key is checked in-band (a failed auth is answered
and the socket closed), then mode, subscribe / unsubscribe, pings; data frames carry a
snapshot record the first time a connection sees a topic, then lite or full updates.
Switches drop every socket or send a malformed frame in place of the next tick."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tests.fakes.fyers import hsm
from tests.fakes.fyers.book import FyersBook
from tests.fakes.server import SocketServer, abort, send


@dataclass
class Subscriber:
    """One client connection and what it asked for."""

    ws: ServerConnection
    authed: bool = False
    lite: bool = False
    topics: set[str] = field(default_factory=set)
    ids: dict[str, int] = field(default_factory=dict)
    """Topic → the topic id its snapshot announced on this connection."""
    sent: int = 0
    received: list[hsm.ClientMessage] = field(default_factory=list)
    pings: int = 0


class FakeDataSocket:
    """The WebSocket half of the fake."""

    def __init__(self, book: FyersBook) -> None:
        self._book = book
        self._server = SocketServer()
        self.subscribers: list[Subscriber] = []
        self.accepted = 0
        """Connections opened (a client that reconnects counts again)."""
        self.refused = 0
        """Auth messages refused."""
        self.malformed_next = 0
        """The next this many `push()`es send a malformed frame instead of the tick."""

    async def start(self) -> int:
        """Listen on an ephemeral loopback port; returns it."""
        return await self._server.start(self._serve)

    async def stop(self) -> None:
        """Close every connection and the listener."""
        await self._server.stop()

    def subscribed(self, topic: str) -> bool:
        """True once some authenticated connection wants this topic."""
        return any(topic in s.topics and s.authed for s in self.subscribers)

    async def push(self, topic: str, raw_ltp: int, *, exch_time: int | None = None) -> int:
        """Send an LTP (raw units: paise at precision 2) to every connection subscribed to
        the topic; returns how many. With `malformed_next` armed, garbage goes instead."""
        garbage = self.malformed_next > 0
        if garbage:
            self.malformed_next -= 1
        when = exch_time or int(time.time())
        sent = 0
        for sub in list(self.subscribers):
            if topic not in sub.topics or not sub.authed:
                continue
            frame = hsm.MALFORMED if garbage else self._frame(sub, topic, raw_ltp, when)
            if await send(sub.ws, frame):
                sent += 1
        return sent

    async def send_raw(self, data: bytes | str) -> None:
        """Send anything to every connection."""
        for sub in list(self.subscribers):
            await send(sub.ws, data)

    def drop_all(self) -> None:
        """Cut every connection without a close handshake (a network drop)."""
        abort(s.ws for s in self.subscribers)

    def _frame(self, sub: Subscriber, topic: str, raw_ltp: int, when: int) -> bytes:
        sub.sent += 1
        topic_id = sub.ids.get(topic)
        if topic_id is None:
            topic_id = sub.ids[topic] = max(sub.ids.values(), default=0) + 1
            token = topic.rsplit("|", 1)[-1]
            record = hsm.snapshot(topic_id, topic, hsm.sf_values(raw_ltp, exch_time=when),
                                  token=token, symbol=token)
        elif sub.lite:
            record = hsm.lite_update(topic_id, raw_ltp)
        else:
            values = [hsm.ABSENT] * hsm.SF_FIELDS
            values[0], values[3] = raw_ltp, when
            record = hsm.full_update(topic_id, values)
        return hsm.data(sub.sent, [record])

    async def _serve(self, ws: ServerConnection) -> None:
        sub = Subscriber(ws)
        self.subscribers.append(sub)
        self.accepted += 1
        try:
            async for message in ws:
                if isinstance(message, bytes) and not await self._handle(sub, message):
                    break
        except ConnectionClosed:
            pass
        finally:
            self.subscribers.remove(sub)

    async def _handle(self, sub: Subscriber, frame: bytes) -> bool:
        """Answer one client message; False ends the connection."""
        if frame == bytes([0, 1, 11]):
            sub.pings += 1
            return True
        message = hsm.parse_client(frame)
        if message is None:
            return True
        sub.received.append(message)
        if message.kind == 1:
            key = message.fields.get(1, b"").decode(errors="replace")
            sub.authed = key in self._book.access_tokens.values()
            await send(sub.ws, hsm.auth_answer(sub.authed))
            if not sub.authed:
                self.refused += 1
            return sub.authed
        if not sub.authed:
            return True
        if message.kind == 12:
            sub.lite = message.fields.get(2) == b"L"
            await send(sub.ws, hsm.mode_answer(True))
        elif message.kind in (4, 5):
            topics = hsm.topics_of(message.fields.get(1, b"\x00\x00"))
            if message.kind == 4:
                sub.topics.update(topics)
            else:
                sub.topics.difference_update(topics)
                for topic in topics:
                    sub.ids.pop(topic, None)
            await send(sub.ws, hsm.sub_answer(message.kind, True))
        return True
