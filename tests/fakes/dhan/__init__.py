"""A wire-faithful fake of Dhan API v2: the REST hosts on Hypercorn + Quart, the live
market feed on a `websockets` server, both on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.fakes.dhan.book import DhanBook, DhanError, Fault
from tests.fakes.dhan.feed import FakeFeed
from tests.fakes.dhan.rest import create_rest_app
from tests.fakes.server import AppServer

__all__ = ["DhanBook", "DhanError", "DhanFake", "Fault", "running_fake"]


class DhanFake:
    """Both halves of the fake, sharing one book."""

    def __init__(self, book: DhanBook | None = None) -> None:
        self.book = book or DhanBook()
        self.feed = FakeFeed(self.book)
        self.root = ""
        self.ws_url = ""
        self._rest = AppServer("fake Dhan REST")

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
        self.root = await self._rest.start(create_rest_app(self.book, self._rest.stopping))
        self.ws_url = f"ws://127.0.0.1:{await self.feed.start()}"

    async def stop(self) -> None:
        """Stop both servers (a hanging order answer is released at once)."""
        self._rest.stopping.set()
        await self.feed.stop()
        await self._rest.stop()


@asynccontextmanager
async def running_fake(book: DhanBook | None = None) -> AsyncIterator[DhanFake]:
    """A started fake, stopped on exit."""
    fake = DhanFake(book)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
