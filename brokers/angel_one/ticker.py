"""SmartWebSocket v2 as a brokers.base.Ticker.

Wire (angel-one/smartapi-python @ff60852 SmartApi/smartWebSocketV2.py `connect`,
`subscribe`, `unsubscribe`; SmartAPI docs "WebSocket Streaming 2.0"): connect to
`{ws_url}` with headers `Authorization` (the jwtToken), `x-api-key`, `x-client-code`,
`x-feed-token`; send JSON text `{"correlationID", "action": 1 | 0, "params": {"mode",
"tokenList": [{"exchangeType", "tokens": [...]}]}}` to subscribe / unsubscribe; receive one
binary tick per frame (packets.py), text `pong` to our text `ping` heartbeat (docs: every
30 s; the SDK pings every 10 s), and JSON text errors (`{"correlationID", "errorCode",
"errorMessage"}`). The socket reconnects by itself (brokers/common/ws.py) and re-sends every
subscription; a refused handshake (401: bad or expired tokens) ends `ticks()` with
TokenExpired.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from websockets.asyncio.client import ClientConnection

from brokers.angel_one.auth import bare_jwt
from brokers.angel_one.instruments import AngelInstruments
from brokers.angel_one.packets import parse_frame
from brokers.common.ws import Backoff, ReconnectingSocket
from brokers.errors import BrokerError, TokenExpired
from core.clock import Clock
from core.messages import Tick

log = logging.getLogger("algo.brokers.angel_one.ticker")

LTP_MODE: Final = 1
SUBSCRIBE: Final = 1
UNSUBSCRIBE: Final = 0
PING: Final = "ping"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Key = tuple[int, str]
"""(exchangeType, token)."""


def _refused(status: int) -> BrokerError | None:
    if status in (401, 403):
        return TokenExpired(f"Angel One feed refused the session (HTTP {status})")
    return None


def request(action: int, mode: int, keys: list[Key]) -> str:
    """A subscribe / unsubscribe message for these (exchangeType, token) pairs."""
    grouped: dict[int, list[str]] = {}
    for exchange_type, token in keys:
        grouped.setdefault(exchange_type, []).append(token)
    return json.dumps({"correlationID": secrets.token_hex(5), "action": action,
                       "params": {"mode": mode, "tokenList": [
                           {"exchangeType": t, "tokens": tokens}
                           for t, tokens in grouped.items()]}})


class AngelTicker:
    """Ticks of subscribed `(exchange, symbol)` pairs from SmartWebSocket v2."""

    def __init__(self, ws_url: str, *, api_key: str, client_code: str, jwt_token: str,
                 feed_token: str, instruments: AngelInstruments,
                 ensure_master: Callable[[], Awaitable[None]], clock: Clock,
                 mode: int = LTP_MODE, backoff: Backoff | None = None,
                 heartbeat_s: float = 10.0, idle_timeout_s: float = 30.0) -> None:
        self._instruments = instruments
        self._ensure_master = ensure_master
        self._clock = clock
        self._mode = mode
        self._heartbeat_s = heartbeat_s
        self._wanted: dict[Key, tuple[str, str]] = {}
        headers = {"Authorization": f"Bearer {bare_jwt(jwt_token)}", "x-api-key": api_key,
                   "x-client-code": client_code, "x-feed-token": feed_token}
        self._socket = ReconnectingSocket(
            ws_url, on_open=self._resubscribe, refused=_refused, headers=headers,
            backoff=backoff, idle_timeout_s=idle_timeout_s, name="angel-ticker")
        self.malformed = 0
        """Frames skipped as malformed."""

    @property
    def connections(self) -> int:
        """How many times the socket has opened (1 + reconnects)."""
        return self._socket.opens

    async def subscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Subscribe these pairs (unknown to the master or not streamable: logged, skipped)."""
        await self._ensure_master()
        keys: list[Key] = []
        for exchange, symbol in instruments:
            record = self._instruments.get(exchange, symbol)
            if record is None or record.exchange_type is None:
                log.warning("%s:%s is not in the Angel scrip master", exchange, symbol)
                continue
            key = (record.exchange_type, record.token)
            self._wanted[key] = (exchange, symbol)
            keys.append(key)
        if keys:
            await self._socket.send(request(SUBSCRIBE, self._mode, keys))

    async def unsubscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Stop the ticks of these pairs."""
        pairs = set(instruments)
        keys = [k for k, pair in self._wanted.items() if pair in pairs]
        for key in keys:
            del self._wanted[key]
        if keys:
            await self._socket.send(request(UNSUBSCRIBE, self._mode, keys))

    async def ticks(self) -> AsyncIterator[Tick]:
        """Ticks as they arrive, across reconnects, until `close()`."""
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            async for frame in self._socket.frames():
                if isinstance(frame, str):
                    self._text(frame)
                    continue
                packet = parse_frame(frame)
                if packet is None:
                    self.malformed += 1
                    log.warning("skipped a malformed Angel frame (%d bytes)", len(frame))
                    continue
                pair = self._wanted.get((packet.exchange_type, packet.token))
                if pair is None or packet.ltp_paise <= 0:  # zero: no trade yet
                    continue
                received = _epoch_ns(self._clock.now())
                exchange_ts = (packet.exchange_ts_ms * 1_000_000 if packet.exchange_ts_ms > 0
                               else received)
                yield Tick(exchange=pair[0], symbol=pair[1], ltp_paise=packet.ltp_paise,
                           exchange_ts=exchange_ts, received_ts=received)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def close(self) -> None:
        """Close the socket; `ticks()` ends."""
        await self._socket.close()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            await self._socket.send(PING)

    async def _resubscribe(self, ws: ClientConnection) -> None:
        keys = list(self._wanted)
        if keys:
            await ws.send(request(SUBSCRIBE, self._mode, keys))

    @staticmethod
    def _text(frame: str) -> None:
        if frame == "pong":
            return
        try:
            message = json.loads(frame)
        except ValueError:
            log.warning("unreadable Angel feed text: %.200s", frame)
            return
        if isinstance(message, dict) and message.get("errorCode"):
            log.warning("Angel feed error %s: %s", message.get("errorCode"),
                        message.get("errorMessage"))


def _epoch_ns(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000
