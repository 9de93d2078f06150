"""A wire-faithful fake of Angel One SmartAPI: REST (and the scrip master) on Hypercorn +
Quart, SmartWebSocket v2 on a `websockets` server, both on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.fakes.angel.book import AngelBook, AngelError, Fault
from tests.fakes.angel.packets import Quote
from tests.fakes.angel.rest import MASTER_PATH, create_rest_app
from tests.fakes.angel.ticker import FakeFeed
from tests.fakes.server import AppServer

__all__ = ["AngelBook", "AngelError", "AngelFake", "Fault", "Quote", "running_fake"]


class AngelFake:
    """Both halves of the fake, sharing one book."""

    def __init__(self, book: AngelBook | None = None) -> None:
        self.book = book or AngelBook()
        self.feed = FakeFeed(self.book)
        self.api_url = ""
        self.ws_url = ""
        self.master_url = ""
        self._rest = AppServer("fake Angel REST")

    async def start(self) -> None:
        """Serve REST and the feed."""
        self.api_url = await self._rest.start(create_rest_app(self.book, self._rest.stopping))
        self.master_url = f"{self.api_url}{MASTER_PATH}"
        self.ws_url = f"ws://127.0.0.1:{await self.feed.start()}/smart-stream"

    async def stop(self) -> None:
        """Stop both servers (a hanging order answer is released at once)."""
        self._rest.stopping.set()
        await self.feed.stop()
        await self._rest.stop()


@asynccontextmanager
async def running_fake(book: AngelBook | None = None) -> AsyncIterator[AngelFake]:
    """A started fake, stopped on exit."""
    fake = AngelFake(book)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
