"""A WebSocket that reconnects with backoff, for broker market-data feeds.

`frames()` yields every frame of every connection until `close()`. After a drop it waits
(exponential backoff with jitter, reset by a successful open), connects again and calls
`on_open`, where the adapter re-sends its subscriptions. A connection that stays silent
longer than `idle_timeout_s` (brokers send heartbeats) is dropped as a ghost. A handshake
the broker refuses for good (`refused` maps the HTTP status to an error, e.g. an expired
token) ends `frames()` with that error instead of retrying forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from brokers.errors import BrokerError

log = logging.getLogger("algo.brokers.ws")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnects: initial * factor**attempt, capped, ± jitter."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        """The wait before reconnect number `attempt` (0-based)."""
        base = min(self.max_s, self.initial_s * self.factor ** attempt)
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))  # noqa: S311


class ReconnectingSocket:
    """Frames from a WebSocket that is reopened whenever it drops."""

    def __init__(self, url: str, *, on_open: Callable[[ClientConnection], Awaitable[None]],
                 headers: Mapping[str, str] | None = None, backoff: Backoff | None = None,
                 refused: Callable[[int], BrokerError | None] | None = None,
                 idle_timeout_s: float | None = 10.0, open_timeout_s: float = 10.0,
                 name: str = "ws") -> None:
        self._url = url
        self._on_open = on_open
        self._headers = dict(headers or {})
        self._backoff = backoff or Backoff()
        self._refused = refused
        self._idle_timeout_s = idle_timeout_s
        self._open_timeout_s = open_timeout_s
        self._name = name
        self._ws: ClientConnection | None = None
        self._closed = asyncio.Event()
        self.opens = 0
        """Successful opens so far (reconnects are `opens - 1`)."""

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._ws is not None

    async def send(self, message: str | bytes) -> bool:
        """Send a text or binary frame on the open connection; False (nothing sent) when
        there is none, in which case `on_open` of the next connection must carry the
        message's intent."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(message)
        except ConnectionClosed:
            return False
        return True

    async def frames(self) -> AsyncIterator[bytes | str]:
        """Every frame received, across reconnects, until `close()`."""
        attempt = 0
        while not self._closed.is_set():
            try:
                async with connect(self._url, additional_headers=self._headers,
                                   open_timeout=self._open_timeout_s,
                                   max_size=2**22) as ws:
                    self._ws = ws
                    self.opens += 1
                    attempt = 0
                    await self._on_open(ws)
                    while True:
                        async with asyncio.timeout(self._idle_timeout_s):
                            frame = await ws.recv()
                        yield frame
            except InvalidStatus as exc:
                error = self._refused(exc.response.status_code) if self._refused else None
                if error is not None:
                    raise error from exc
                log.warning("%s: handshake refused (%s); reconnecting", self._name, exc)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
                if not self._closed.is_set():
                    log.warning("%s: connection lost (%s: %s); reconnecting", self._name,
                                type(exc).__name__, exc)
            finally:
                self._ws = None
            await self._pause(self._backoff.delay(attempt))
            attempt += 1

    async def close(self) -> None:
        """Stop: the open connection is closed and `frames()` ends."""
        self._closed.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), timeout=seconds)
