"""A wire-faithful fake of Zerodha Kite Connect v3: REST on Hypercorn + Quart, the ticker
on a `websockets` server, both on ephemeral loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hypercorn.asyncio import serve
from hypercorn.config import Config

from core.embedded.process import pick_port, tcp_open
from tests.fakes.kite.book import Fault, KiteBook, KiteError
from tests.fakes.kite.packets import Quote
from tests.fakes.kite.rest import create_rest_app
from tests.fakes.kite.ticker import FakeTicker
from tests.stubs import eventually

__all__ = ["Fault", "KiteBook", "KiteError", "KiteFake", "Quote", "running_fake"]


class KiteFake:
    """Both halves of the fake, sharing one book."""

    def __init__(self, book: KiteBook | None = None) -> None:
        self.book = book or KiteBook()
        self.ticker = FakeTicker(self.book)
        self.api_url = ""
        self.ws_url = ""
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve REST and the ticker."""
        port = pick_port(0)
        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 1.0
        app = create_rest_app(self.book, self._stop)
        self._task = asyncio.create_task(serve(app, config, shutdown_trigger=self._stop.wait))
        await eventually(lambda: tcp_open("127.0.0.1", port), timeout=10,
                         message="fake Kite REST")
        self.api_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{await self.ticker.start()}"

    async def stop(self) -> None:
        """Stop both servers (a hanging order answer is released at once)."""
        self._stop.set()
        await self.ticker.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=15)


@asynccontextmanager
async def running_fake(book: KiteBook | None = None) -> AsyncIterator[KiteFake]:
    """A started fake, stopped on exit."""
    fake = KiteFake(book)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
