"""What the stop-loss benchmark observes: exit commands as published (a core subscription),
as stored (read back from COMMANDS by sequence), and the server's backlog for the watcher."""

from __future__ import annotations

import asyncio
import time

import httpx
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from core import subjects
from core.messages import OrderCommand, decoder


class CommandLog:
    """Every exit command published, by `Nats-Msg-Id`: when it reached this process."""

    def __init__(self) -> None:
        self.seen: dict[str, list[int]] = {}
        self.all_seen = asyncio.Event()
        """Set once every id given to `expect` has been seen."""
        self._waiting: set[str] = set()

    def expect(self, msg_ids: set[str]) -> None:
        """Set `all_seen` once each of `msg_ids` has been seen."""
        self._waiting = msg_ids - self.seen.keys()
        if not self._waiting:
            self.all_seen.set()

    async def start(self, nc: NatsClient) -> None:
        """Subscribe (core NATS: the stream is untouched)."""
        await nc.subscribe(subjects.COMMANDS_ALL, cb=self._on_msg)

    async def _on_msg(self, msg: Msg) -> None:
        now = time.time_ns()
        msg_id = (msg.headers or {}).get(subjects.MSG_ID_HEADER, "")
        self.seen.setdefault(msg_id, []).append(now)
        if msg_id in self._waiting:
            self._waiting.discard(msg_id)
            if not self._waiting:
                self.all_seen.set()


async def stored(js: JetStreamContext) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Every command in COMMANDS by `Nats-Msg-Id`: the instants the stream stored it, and
    the `issued_at` the watcher gave it."""
    info = await js.stream_info(subjects.COMMANDS)
    found: dict[str, list[int]] = {}
    issued: dict[str, int] = {}
    command = decoder(OrderCommand)
    slots = asyncio.Semaphore(64)

    async def one(seq: int) -> None:
        async with slots:
            raw = await js.get_msg(subjects.COMMANDS, seq)
        assert raw.time is not None
        msg_id = (raw.headers or {}).get(subjects.MSG_ID_HEADER, "")
        at = raw.time
        found.setdefault(msg_id, []).append(
            (int(at.timestamp()) * 1_000_000 + at.microsecond) * 1000)
        issued[msg_id] = command.decode(raw.data or b"").issued_at

    if info.state.messages:
        await asyncio.gather(*(one(s) for s in range(info.state.first_seq,
                                                      info.state.last_seq + 1)))
    return found, issued


class Backlog:
    """Samples, once a second, the bytes the server holds for the watcher's connection."""

    def __init__(self, monitor_url: str | None) -> None:
        self._url = monitor_url
        self.max_pending_bytes = 0
        self.samples = 0

    async def run(self) -> None:
        """Until cancelled."""
        if self._url is None:
            return
        async with httpx.AsyncClient(base_url=self._url, timeout=2.0) as client:
            while True:
                conns = (await client.get("/connz")).json().get("connections", [])
                for conn in conns:
                    if str(conn.get("name", "")).startswith("pipeline:slwatch"):
                        self.max_pending_bytes = max(self.max_pending_bytes,
                                                     int(conn.get("pending_bytes", 0)))
                self.samples += 1
                await asyncio.sleep(1.0)

    async def slow_consumers(self) -> int | None:
        """The server's slow-consumer count (messages it dropped for a lagging client)."""
        if self._url is None:
            return None
        async with httpx.AsyncClient(base_url=self._url, timeout=2.0) as client:
            return int((await client.get("/varz")).json().get("slow_consumers", 0))
