"""The Fyers data socket (HSM binary protocol) as a brokers.base.Ticker.

Wire (fyers-apiv3 3.2.0 FyersWebsocket/data_ws.py `__on_open`, `subscribe`, `__ping`):
connect to `wss://socket.fyers.in/hsm/v1-5/prod` with no credentials in the handshake;
send the auth message with the access token's `hsm_key`, then the mode (lite: LTP only),
then subscribe topics built from the symbol master (instruments.py); a ping every 10 s.
The server answers auth in-band: anything but "K" means the session is dead, which ends
`ticks()` with TokenExpired, as does a token whose `exp` has passed (the SDK refuses those
before connecting, error -99 "Token is expired"). Fyers documents no server heartbeat, so
a silent connection is not dropped for silence; a dead peer is found by the WebSocket
protocol's own ping/pong (websockets' keepalive). The socket reconnects by itself
(brokers/common/ws.py), authenticates again and re-sends every subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from websockets.asyncio.client import ClientConnection

from brokers.common.ws import Backoff, ReconnectingSocket
from brokers.errors import TokenExpired
from brokers.fyers import hsm
from brokers.fyers.auth import claims, hsm_key
from brokers.fyers.instruments import FyersInstruments
from brokers.fyers.packets import AUTH, CUSTOM, Decoded, Decoder
from core.clock import Clock
from core.messages import Tick

log = logging.getLogger("algo.brokers.fyers.ticker")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class FyersTicker:
    """Ticks of subscribed `(exchange, symbol)` pairs from Fyers' data socket."""

    def __init__(self, ws_url: str, access_token: str, instruments: FyersInstruments, *,
                 ensure_master: Callable[[], Awaitable[None]], clock: Clock,
                 lite: bool = True, backoff: Backoff | None = None,
                 ping_interval_s: float = hsm.PING_INTERVAL_S) -> None:
        self._token = access_token
        self._instruments = instruments
        self._ensure_master = ensure_master
        self._clock = clock
        self._lite = lite
        self._ping_interval_s = ping_interval_s
        self._wanted: dict[str, tuple[str, str]] = {}
        """Subscribed topic → (exchange, symbol)."""
        self._decoder = Decoder()
        self._ack_every = 0
        self._unacked = 0
        self._socket = ReconnectingSocket(ws_url, on_open=self._on_open, backoff=backoff,
                                          idle_timeout_s=None, name="fyers-data")
        self.malformed = 0
        """Records or frames skipped as malformed."""

    @property
    def connections(self) -> int:
        """How many times the socket has opened (1 + reconnects)."""
        return self._socket.opens

    async def subscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Subscribe these pairs (unknown to the master or not streamable: logged, skipped)."""
        await self._ensure_master()
        topics = []
        for exchange, symbol in instruments:
            record = self._instruments.get(exchange, symbol)
            topic = record.topic if record is not None else None
            if topic is None:
                log.warning("%s:%s has no Fyers data topic (not in the symbol master)",
                            exchange, symbol)
                continue
            self._wanted[topic] = (exchange, symbol)
            topics.append(topic)
        for batch in hsm.batches(topics):
            await self._socket.send(hsm.subscribe(batch))

    async def unsubscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Stop the ticks of these pairs."""
        pairs = set(instruments)
        topics = [t for t, pair in self._wanted.items() if pair in pairs]
        for topic in topics:
            del self._wanted[topic]
        for batch in hsm.batches(topics):
            await self._socket.send(hsm.unsubscribe(batch))

    async def ticks(self) -> AsyncIterator[Tick]:
        """Ticks as they arrive, across reconnects, until `close()`."""
        self._check_token()
        pinger = asyncio.create_task(self._ping())
        try:
            async for frame in self._socket.frames():
                if isinstance(frame, str):
                    log.warning("unexpected Fyers data socket text: %.200s", frame)
                    continue
                decoded = self._decoder.feed(frame)
                await self._control(decoded)
                if decoded.malformed:
                    self.malformed += decoded.malformed
                    log.warning("skipped a malformed Fyers data frame")
                if not decoded.packets:
                    continue
                received = _epoch_ns(self._clock.now())
                for packet in decoded.packets:
                    pair = self._wanted.get(packet.topic)
                    if pair is None:
                        continue
                    exchange_ts = (packet.exchange_ts_s * 1_000_000_000
                                   if packet.exchange_ts_s else received)
                    yield Tick(exchange=pair[0], symbol=pair[1], ltp_paise=packet.ltp_paise,
                               exchange_ts=exchange_ts, received_ts=received)
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def close(self) -> None:
        """Close the socket; `ticks()` ends."""
        await self._socket.close()

    def _check_token(self) -> None:
        exp = claims(self._token).get("exp")
        if hsm_key(self._token) is None:
            raise TokenExpired("the Fyers access token carries no hsm_key: log in again")
        if isinstance(exp, int | float) and exp < self._clock.now().timestamp():
            raise TokenExpired("the Fyers access token has expired: log in to Fyers again")

    async def _on_open(self, ws: ClientConnection) -> None:
        self._decoder.reset()
        self._ack_every = self._unacked = 0
        await ws.send(hsm.auth(hsm_key(self._token) or ""))
        await ws.send(hsm.mode(lite=self._lite))
        for batch in hsm.batches(list(self._wanted)):
            await ws.send(hsm.subscribe(batch))

    async def _control(self, decoded: Decoded) -> None:
        control = decoded.control
        if control is not None and control.kind == AUTH:
            if not control.ok:
                await self._socket.close()
                raise TokenExpired("Fyers data socket refused the session: log in again")
            self._ack_every = control.ack_count
        elif control is not None and not control.ok:
            what = "message" if control.kind == CUSTOM else f"request type {control.kind}"
            log.warning("Fyers data socket %s failed: %s %s", what, control.code,
                        control.message)
        if decoded.message_number is not None and self._ack_every > 0:
            self._unacked += 1
            if self._unacked >= self._ack_every:
                self._unacked = 0
                await self._socket.send(hsm.acknowledge(decoded.message_number))

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self._ping_interval_s)
            await self._socket.send(hsm.PING)


def _epoch_ns(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000
