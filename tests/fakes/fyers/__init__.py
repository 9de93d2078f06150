"""A wire-faithful fake of Fyers API v3: REST (trading under /api/v3, market data under
/data, symbol masters under /sym_details) on Hypercorn + Quart, and the HSM binary data
socket on a `websockets` server, both on ephemeral loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hypercorn.asyncio import serve
from hypercorn.config import Config

from core.embedded.process import pick_port, tcp_open
from tests.fakes.fyers.book import Fault, FyersBook, FyersError
from tests.fakes.fyers.rest import create_rest_app
from tests.fakes.fyers.ticker import FakeDataSocket
from tests.stubs import eventually

__all__ = ["Fault", "FyersBook", "FyersError", "FyersFake", "running_fake"]


class FyersFake:
    """Both halves of the fake, sharing one book."""

    def __init__(self, book: FyersBook | None = None) -> None:
        self.book = book or FyersBook()
        self.socket = FakeDataSocket(self.book)
        self.api_url = ""
        self.ws_url = ""
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def symbols_url(self) -> str:
        """Where the symbol masters are served."""
        return f"{self.api_url}/sym_details"

    async def start(self) -> None:
        """Serve REST and the data socket."""
        port = pick_port(0)
        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 1.0
        app = create_rest_app(self.book, self._stop)
        self._task = asyncio.create_task(serve(app, config, shutdown_trigger=self._stop.wait))
        await eventually(lambda: tcp_open("127.0.0.1", port), timeout=10,
                         message="fake Fyers REST")
        self.api_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{await self.socket.start()}"

    async def stop(self) -> None:
        """Stop both servers (a hanging order answer is released at once)."""
        self._stop.set()
        await self.socket.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=15)


@asynccontextmanager
async def running_fake(book: FyersBook | None = None) -> AsyncIterator[FyersFake]:
    """A started fake, stopped on exit."""
    fake = FyersFake(book)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
