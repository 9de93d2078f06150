"""A real HTTP server for the app and an SSE reader on httpx, for the live-event tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Quart

from core.embedded.process import pick_port, tcp_open
from tests.stubs import eventually


@contextlib.asynccontextmanager
async def serving(app: Quart) -> AsyncIterator[str]:
    """Serve `app` with Hypercorn on a free loopback port; yields its base URL."""
    port = pick_port(0)
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    await eventually(lambda: tcp_open("127.0.0.1", port), timeout=10, message="server up")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


@dataclass
class SseEvent:
    """One dispatched event."""

    id: int
    type: str
    data: dict[str, Any]


@dataclass
class SseReader:
    """Reads one SSE response in the background, keeping events and comments."""

    response: httpx.Response
    events: list[SseEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    ended: bool = False
    _task: asyncio.Task[None] | None = None

    def start(self) -> SseReader:
        """Begin reading."""
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if "data" in fields:
                        self.events.append(SseEvent(int(fields["id"]), fields["event"],
                                                    json.loads(fields["data"])))
                    fields = {}
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
        except (httpx.ReadError, httpx.RemoteProtocolError):
            pass
        finally:
            self.ended = True

    @property
    def ids(self) -> list[int]:
        """The ids of the events received so far."""
        return [e.id for e in self.events]

    async def close(self) -> None:
        """Stop reading and close the response (the client disconnects)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.response.aclose()


@contextlib.asynccontextmanager
async def open_stream(client: httpx.AsyncClient, path: str, **kwargs: Any,
                      ) -> AsyncIterator[SseReader]:
    """GET an SSE path and read it in the background until the block ends."""
    request = client.build_request("GET", path, **kwargs)
    response = await client.send(request, stream=True)
    assert response.status_code == 200, (response.status_code, await response.aread())
    reader = SseReader(response).start()
    try:
        yield reader
    finally:
        await reader.close()
