"""A wire-faithful fake of Zerodha Kite Connect v3: REST on Hypercorn + Quart, the ticker
on a `websockets` server, both on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.fakes.kite.book import Fault, KiteBook, KiteError
from tests.fakes.kite.packets import Quote
from tests.fakes.kite.rest import create_rest_app
from tests.fakes.kite.ticker import FakeTicker
from tests.fakes.server import AppServer

__all__ = ["Fault", "KiteBook", "KiteError", "KiteFake", "Quote", "running_fake"]


class KiteFake:
    """Both halves of the fake, sharing one book."""

    def __init__(self, book: KiteBook | None = None) -> None:
        self.book = book or KiteBook()
        self.ticker = FakeTicker(self.book)
        self.api_url = ""
        self.ws_url = ""
        self._rest = AppServer("fake Kite REST")

    async def start(self) -> None:
        """Serve REST and the ticker."""
        self.api_url = await self._rest.start(create_rest_app(self.book, self._rest.stopping))
        self.ws_url = f"ws://127.0.0.1:{await self.ticker.start()}"

    async def stop(self) -> None:
        """Stop both servers (a hanging order answer is released at once)."""
        self._rest.stopping.set()
        await self.ticker.stop()
        await self._rest.stop()


@asynccontextmanager
async def running_fake(book: KiteBook | None = None) -> AsyncIterator[KiteFake]:
    """A started fake, stopped on exit."""
    fake = KiteFake(book)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
