"""Publishing ticks on `ticks.{exchange}.{symbol}` with core NATS publishes, in batches.

`add` only encodes and buffers (no await). The buffer goes out as soon as the producing task
gives the loop a turn (the flusher task is woken by the first tick of a batch), or at once
by the producer when it holds `BATCH` ticks; so a batch waits for at most one turn of the
loop, never for a timer. No tick waits for an acknowledgement: the TICKS stream stores what
the server receives. When the connection's outbound buffer is full (the server or the
network cannot keep up) ticks are shed and counted rather than waited for: a newer tick of
the same instrument follows, and a stale one is worth nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import msgspec
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError

from core.aio import check_cancelled
from core.messages import Tick

BATCH: Final = 100
"""Ticks buffered before the producer flushes them itself."""
MAX_PENDING_BYTES: Final = 1024 * 1024
"""Outbound bytes not yet written to the socket above which ticks are shed (nats-py blocks
a publisher at 2 MiB)."""


class TickPublisher:
    """Buffers encoded ticks and hands them to the NATS connection in batches."""

    def __init__(self, nc: NatsClient, log: logging.Logger) -> None:
        self._nc = nc
        self._log = log
        self._encode = msgspec.json.Encoder().encode
        self._buffer: list[tuple[str, bytes]] = []
        self._wake = asyncio.Event()
        self._shedding = False
        self.published = 0
        """Ticks handed to the connection."""
        self.shed = 0
        """Ticks dropped because the connection could not take them."""
        self.flushes = 0

    def add(self, subject: str, tick: Tick) -> bool:
        """Buffer one tick; True when the caller should `await flush()` (a full batch)."""
        buffer = self._buffer
        buffer.append((subject, self._encode(tick)))
        if len(buffer) == 1:
            self._wake.set()
        return len(buffer) >= BATCH

    @property
    def pending(self) -> int:
        """Ticks buffered, not yet published."""
        return len(self._buffer)

    async def flush(self) -> None:
        """Publish everything buffered, then give the connection's writer a turn."""
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        nc = self._nc
        published = 0
        for subject, data in batch:
            if nc.pending_data_size > MAX_PENDING_BYTES:
                self._shed(len(batch) - published, "outbound buffer full")
                break
            try:
                await nc.publish(subject, data)
            except NatsError as exc:  # closed, draining, or reconnecting with a full buffer
                self._shed(len(batch) - published, str(exc) or type(exc).__name__)
                break
            published += 1
        else:
            if self._shedding:
                self._shedding = False
                self._log.info("publishing ticks again")
        self.published += published
        self.flushes += 1
        await asyncio.sleep(0)

    async def run(self) -> None:
        """The flusher task: publish each batch as soon as the loop gets to it."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            check_cancelled()

    def _shed(self, count: int, why: str) -> None:
        self.shed += count
        if not self._shedding:  # one line per episode, not one per tick
            self._shedding = True
            self._log.warning("shedding ticks: %s", why)
