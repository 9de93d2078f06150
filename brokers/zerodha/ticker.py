"""The Kite market-data WebSocket as a brokers.base.Ticker.

Wire (zerodha/pykiteconnect kiteconnect/ticker.py): connect to
`{ws_url}?api_key=...&access_token=...` with header `X-Kite-Version: 3`; send JSON text
`{"a": "subscribe", "v": [tokens]}`, `{"a": "unsubscribe", "v": [tokens]}` and
`{"a": "mode", "v": [mode, [tokens]]}`; receive binary tick frames (packets.py), 1-byte
heartbeats, and JSON text (`{"type": "error" | "message" | "order", "data": ...}`).
The socket reconnects by itself (brokers/common/ws.py) and re-sends every subscription;
a refused handshake (403: bad or expired token) ends `ticks()` with TokenExpired.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Literal
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection

from brokers.common.ws import Backoff, ReconnectingSocket
from brokers.errors import BrokerError, TokenExpired
from brokers.zerodha.auth import KITE_VERSION
from brokers.zerodha.instruments import KiteInstruments
from brokers.zerodha.packets import parse_frame
from core.clock import Clock
from core.messages import Tick

log = logging.getLogger("algo.brokers.zerodha.ticker")

Mode = Literal["ltp", "quote", "full"]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _refused(status: int) -> BrokerError | None:
    if status in (401, 403):
        return TokenExpired(f"Kite ticker refused the session (HTTP {status})")
    return None


class KiteTicker:
    """Ticks of subscribed `(exchange, symbol)` pairs from Kite's ticker."""

    def __init__(self, ws_url: str, api_key: str, access_token: str,
                 instruments: KiteInstruments, *, ensure_master: Callable[[], Awaitable[None]],
                 clock: Clock, mode: Mode = "ltp", backoff: Backoff | None = None,
                 idle_timeout_s: float = 10.0) -> None:
        self._instruments = instruments
        self._ensure_master = ensure_master
        self._clock = clock
        self._mode = mode
        self._wanted: dict[int, tuple[str, str]] = {}
        """Subscribed instrument_token → (exchange, symbol)."""
        query = urlencode({"api_key": api_key, "access_token": access_token})
        self._socket = ReconnectingSocket(
            f"{ws_url}?{query}", on_open=self._resubscribe, refused=_refused,
            headers={"X-Kite-Version": KITE_VERSION}, backoff=backoff,
            idle_timeout_s=idle_timeout_s, name="kite-ticker")
        self.malformed = 0
        """Packets skipped as malformed."""

    @property
    def connections(self) -> int:
        """How many times the socket has opened (1 + reconnects)."""
        return self._socket.opens

    async def subscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Subscribe these pairs (unknown to the master: logged and skipped)."""
        await self._ensure_master()
        tokens = []
        for exchange, symbol in instruments:
            token = self._instruments.token(exchange, symbol)
            if token is None:
                log.warning("%s:%s is not in the Kite instrument master", exchange, symbol)
                continue
            self._wanted[token] = (exchange, symbol)
            tokens.append(token)
        if tokens:
            await self._socket.send(json.dumps({"a": "subscribe", "v": tokens}))
            await self._socket.send(json.dumps({"a": "mode", "v": [self._mode, tokens]}))

    async def unsubscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Stop the ticks of these pairs."""
        pairs = set(instruments)
        tokens = [t for t, pair in self._wanted.items() if pair in pairs]
        for token in tokens:
            del self._wanted[token]
        if tokens:
            await self._socket.send(json.dumps({"a": "unsubscribe", "v": tokens}))

    async def ticks(self) -> AsyncIterator[Tick]:
        """Ticks as they arrive, across reconnects, until `close()`."""
        async for frame in self._socket.frames():
            if isinstance(frame, str):
                self._text(frame)
                continue
            packets, malformed = parse_frame(frame)
            if malformed:
                self.malformed += malformed
                log.warning("skipped %d malformed Kite packet(s)", malformed)
            if not packets:
                continue
            received = _epoch_ns(self._clock.now())
            for packet in packets:
                pair = self._wanted.get(packet.token)
                if pair is None:
                    continue
                exchange_ts = (packet.exchange_ts_s * 1_000_000_000 if packet.exchange_ts_s
                               else received)
                yield Tick(exchange=pair[0], symbol=pair[1], ltp_paise=packet.ltp_paise,
                           exchange_ts=exchange_ts, received_ts=received)

    async def close(self) -> None:
        """Close the socket; `ticks()` ends."""
        await self._socket.close()

    async def _resubscribe(self, ws: ClientConnection) -> None:
        tokens = list(self._wanted)
        if tokens:
            await ws.send(json.dumps({"a": "subscribe", "v": tokens}))
            await ws.send(json.dumps({"a": "mode", "v": [self._mode, tokens]}))

    @staticmethod
    def _text(frame: str) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            log.warning("unreadable Kite ticker text: %.200s", frame)
            return
        if isinstance(message, dict) and message.get("type") == "error":
            log.warning("Kite ticker error: %s", message.get("data"))


def _epoch_ns(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000
