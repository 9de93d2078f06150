"""A wire-faithful fake of Dhan API v2: the REST hosts on Hypercorn + Quart, the live
market feed on a `websockets` server, both on ephemeral loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hypercorn.asyncio import serve
from hypercorn.config import Config

from core.embedded.process import pick_port, tcp_open
from tests.fakes.dhan.book import DhanBook, DhanError, Fault
from tests.fakes.dhan.feed import FakeFeed
from tests.fakes.dhan.rest import create_rest_app
from tests.stubs import eventually

__all__ = ["DhanBook", "DhanError", "DhanFake", "Fault", "running_fake"]


class DhanFake:
    """Both halves of the fake, sharing one book."""

    def __init__(self, book: DhanBook | None = None) -> None:
        self.book = book or DhanBook()
        self.feed = FakeFeed(self.book)
        self.root = ""
        self.ws_url = ""
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def api_url(self) -> str:
        """What `ALGO_DHAN_API_URL` would be."""
        return f"{self.root}/v2"

    @property
    def auth_url(self) -> str:
        """What `ALGO_DHAN_AUTH_URL` would be."""
        return self.root

    @property
    def scrip_master_url(self) -> str:
        """What `ALGO_DHAN_SCRIP_MASTER_URL` would be."""
        return f"{self.root}/api-data/api-scrip-master.csv"

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
                         message="fake Dhan REST")
        self.root = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{await self.feed.start()}"

    async def stop(self) -> None:
        """Stop both servers (a hanging order answer is released at once)."""
        self._stop.set()
        await self.feed.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=15)


@asynccontextmanager
async def running_fake(book: DhanBook | None = None) -> AsyncIterator[DhanFake]:
    """A started fake, stopped on exit."""
    fake = DhanFake(book)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
