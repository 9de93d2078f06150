"""A wire-faithful fake of Angel One SmartAPI: REST (and the scrip master) on Hypercorn +
Quart, SmartWebSocket v2 on a `websockets` server, both on ephemeral loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hypercorn.asyncio import serve
from hypercorn.config import Config

from core.embedded.process import pick_port, tcp_open
from tests.fakes.angel.book import AngelBook, AngelError, Fault
from tests.fakes.angel.packets import Quote
from tests.fakes.angel.rest import MASTER_PATH, create_rest_app
from tests.fakes.angel.ticker import FakeFeed
from tests.stubs import eventually

__all__ = ["AngelBook", "AngelError", "AngelFake", "Fault", "Quote", "running_fake"]


class AngelFake:
    """Both halves of the fake, sharing one book."""

    def __init__(self, book: AngelBook | None = None) -> None:
        self.book = book or AngelBook()
        self.feed = FakeFeed(self.book)
        self.api_url = ""
        self.ws_url = ""
        self.master_url = ""
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve REST and the feed."""
        port = pick_port(0)
        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 1.0
        app = create_rest_app(self.book, self._stop)
        self._task = asyncio.create_task(serve(app, config, shutdown_trigger=self._stop.wait))
        await eventually(lambda: tcp_open("127.0.0.1", port), timeout=10,
                         message="fake Angel REST")
        self.api_url = f"http://127.0.0.1:{port}"
        self.master_url = f"{self.api_url}{MASTER_PATH}"
        self.ws_url = f"ws://127.0.0.1:{await self.feed.start()}/smart-stream"

    async def stop(self) -> None:
        """Stop both servers (a hanging order answer is released at once)."""
        self._stop.set()
        await self.feed.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=15)


@asynccontextmanager
async def running_fake(book: AngelBook | None = None) -> AsyncIterator[AngelFake]:
    """A started fake, stopped on exit."""
    fake = AngelFake(book)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
