"""Dhan's live market feed (v2) as a brokers.base.Ticker.

Wire (dhan-oss/DhanHQ-py src/dhanhq/marketfeed.py @1670f81, `connect`,
`subscribe_instruments`, `unsubscribe_symbols`, `disconnect`; docs v2, Live Market Feed):
connect to `{ws_url}?version=2&token={access_token}&clientId={client_id}&authType=2` (no
auth message); send JSON text `{"RequestCode": 15, "InstrumentCount": n, "InstrumentList":
[{"ExchangeSegment": "NSE_EQ", "SecurityId": "2885"}, ...]}` with at most 100 instruments a
message (16 unsubscribes, 12 disconnects); receive binary packets (packets.py). The server
pings every 10 s and the client library pongs; a connection silent for 40 s is dropped by
the server. We subscribe in ticker mode (15): LTP and last trade time are all a Tick needs.

The socket reconnects by itself (brokers/common/ws.py) and re-sends every subscription. There
is no data heartbeat, so ghost connections are found by the WebSocket pings of the client
library rather than by an idle timeout. A disconnect packet for a dead session (807..810) or a
refused handshake (401/403) ends `ticks()` with TokenExpired; 806 (no Data API plan) with
BrokerUnavailable.

Ticks carry our receive time as `exchange_ts`: Dhan's last trade time has one-second
resolution (several trades in a second would look like duplicates to the feed's
newest-wins merge), and whether its epoch counts UTC or IST wall-clock seconds is not
documented (the SDK prints it as UTC).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection

from brokers.common.ws import Backoff, ReconnectingSocket
from brokers.dhan.instruments import SEGMENTS, DhanInstruments
from brokers.dhan.packets import parse_frame
from brokers.errors import BrokerError, BrokerUnavailable, TokenExpired
from core.clock import Clock
from core.messages import Tick

log = logging.getLogger("algo.brokers.dhan.ticker")

SUBSCRIBE: Final = 15
UNSUBSCRIBE: Final = 16
DISCONNECT: Final = 12
BATCH: Final = 100
"""Instruments per subscribe message (docs v2; the SDK batches by 100 too)."""
DEAD_SESSION: Final = frozenset({807, 808, 809, 810})
NO_DATA_PLAN: Final = 806
_FEED_NUMBER: Final = {name: number for name, number, _ in SEGMENTS.values()}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Wanted = tuple[int, int]
"""(feed segment number, security id): how a packet names its instrument."""


def _refused(status: int) -> BrokerError | None:
    if status in (401, 403):
        return TokenExpired(f"Dhan feed refused the session (HTTP {status})")
    return None


def feed_url(ws_url: str, client_id: str, access_token: str) -> str:
    """The feed's URL with the session in its query."""
    query = urlencode({"version": 2, "token": access_token, "clientId": client_id,
                       "authType": 2})
    return f"{ws_url}?{query}"


def requests(code: int, instruments: list[tuple[str, int]]) -> list[str]:
    """The JSON messages (≤ 100 instruments each) that (un)subscribe (segment, id) pairs."""
    out = []
    for start in range(0, len(instruments), BATCH):
        batch = instruments[start:start + BATCH]
        out.append(json.dumps({
            "RequestCode": code, "InstrumentCount": len(batch),
            "InstrumentList": [{"ExchangeSegment": segment, "SecurityId": str(security_id)}
                               for segment, security_id in batch]}))
    return out


class DhanTicker:
    """Ticks of subscribed `(exchange, symbol)` pairs from Dhan's live market feed."""

    def __init__(self, ws_url: str, client_id: str, access_token: str,
                 instruments: DhanInstruments, *, ensure_master: Callable[[], Awaitable[None]],
                 clock: Clock, backoff: Backoff | None = None) -> None:
        self._instruments = instruments
        self._ensure_master = ensure_master
        self._clock = clock
        self._wanted: dict[Wanted, tuple[str, str]] = {}
        self._keys: dict[Wanted, tuple[str, int]] = {}
        """Feed key → (exchangeSegment, security id), as subscribe messages name it."""
        self._socket = ReconnectingSocket(
            feed_url(ws_url, client_id, access_token), on_open=self._resubscribe,
            refused=_refused, backoff=backoff, idle_timeout_s=None, name="dhan-feed")
        self.malformed = 0
        """Packets skipped as malformed."""

    @property
    def connections(self) -> int:
        """How many times the socket has opened (1 + reconnects)."""
        return self._socket.opens

    async def subscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Subscribe these pairs (unknown to the master: logged and skipped)."""
        await self._ensure_master()
        added = []
        for exchange, symbol in instruments:
            record = self._instruments.get(exchange, symbol)
            if record is None:
                log.warning("%s:%s is not in the Dhan scrip master", exchange, symbol)
                continue
            key = (_FEED_NUMBER[record.segment], record.security_id)
            self._wanted[key] = (exchange, symbol)
            self._keys[key] = record.key
            added.append(record.key)
        for message in requests(SUBSCRIBE, added):
            await self._socket.send(message)

    async def unsubscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Stop the ticks of these pairs."""
        pairs = set(instruments)
        gone = [key for key, pair in self._wanted.items() if pair in pairs]
        removed = [self._keys.pop(key) for key in gone]
        for key in gone:
            del self._wanted[key]
        for message in requests(UNSUBSCRIBE, removed):
            await self._socket.send(message)

    async def ticks(self) -> AsyncIterator[Tick]:
        """Ticks as they arrive, across reconnects, until `close()`."""
        async for frame in self._socket.frames():
            if isinstance(frame, str):
                log.info("Dhan feed text: %.200s", frame)
                continue
            parsed = parse_frame(frame)
            if parsed.malformed:
                self.malformed += parsed.malformed
                log.warning("skipped a malformed Dhan feed packet")
            received = _epoch_ns(self._clock.now())
            for packet in parsed.packets:
                pair = self._wanted.get((packet.segment, packet.security_id))
                if pair is not None:
                    yield Tick(exchange=pair[0], symbol=pair[1], ltp_paise=packet.ltp_paise,
                               exchange_ts=received, received_ts=received)
            if parsed.disconnect is not None:
                await self._disconnected(parsed.disconnect)

    async def close(self) -> None:
        """Say goodbye to the server, close the socket; `ticks()` ends."""
        await self._socket.send(json.dumps({"RequestCode": DISCONNECT}))
        await self._socket.close()

    async def _disconnected(self, reason: int) -> None:
        if reason in DEAD_SESSION:
            await self._socket.close()
            raise TokenExpired(f"Dhan feed closed the session (reason {reason})")
        if reason == NO_DATA_PLAN:
            await self._socket.close()
            raise BrokerUnavailable("Dhan feed: the account has no Data API subscription")
        log.warning("Dhan feed disconnect packet (reason %d); reconnecting", reason)

    async def _resubscribe(self, ws: ClientConnection) -> None:
        for message in requests(SUBSCRIBE, list(self._keys.values())):
            await ws.send(message)


def _epoch_ns(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000
