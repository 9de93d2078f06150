"""What every fake broker serves on: its REST app on Hypercorn and its market-data socket
on a `websockets` server, each on an ephemeral loopback port. The wire itself (paths,
handshakes, frames) is each fake's own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from hypercorn.asyncio import serve as serve_http
from hypercorn.config import Config
from quart import Quart
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as serve_ws
from websockets.exceptions import ConnectionClosed

from core.embedded.process import pick_port, tcp_open
from tests.stubs import eventually

HOST = "127.0.0.1"


class AppServer:
    """A Quart app served until `stop()`; `stopping` is set first, so the app can release
    an answer it holds back (an accept-then-timeout order) at once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, app: Quart) -> str:
        """Serve `app`; returns its root URL once the port accepts connections."""
        port = pick_port(0)
        config = Config()
        config.bind = [f"{HOST}:{port}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 1.0
        self._task = asyncio.create_task(serve_http(app, config,
                                                    shutdown_trigger=self.stopping.wait))
        await eventually(lambda: tcp_open(HOST, port), timeout=10, message=self.name)
        return f"http://{HOST}:{port}"

    async def stop(self) -> None:
        """Shut the server down (a second call just waits again)."""
        self.stopping.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=15)


class SocketServer:
    """A `websockets` server for one connection handler."""

    def __init__(self) -> None:
        self._server: Server | None = None

    async def start(self, handler: Callable[[ServerConnection], Awaitable[None]],
                    **options: Any) -> int:
        """Listen (options go to `websockets.serve`); returns the port."""
        self._server = await serve_ws(handler, HOST, 0, **options)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close every connection and the listener."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def send(ws: ServerConnection, data: bytes | str) -> bool:
    """Send one frame; False when the connection is already closed."""
    try:
        await ws.send(data)
    except ConnectionClosed:
        return False
    return True


def abort(connections: Iterable[ServerConnection]) -> None:
    """Cut connections without a close handshake (a network drop)."""
    for ws in list(connections):
        if ws.transport is not None:
            ws.transport.abort()
