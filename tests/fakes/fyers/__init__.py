"""A wire-faithful fake of Fyers API v3: REST (trading under /api/v3, market data under
/data, symbol masters under /sym_details) on Hypercorn + Quart, and the HSM binary data
socket on a `websockets` server, both on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.fakes.fyers.book import Fault, FyersBook, FyersError
from tests.fakes.fyers.rest import create_rest_app
from tests.fakes.fyers.ticker import FakeDataSocket
from tests.fakes.server import AppServer

__all__ = ["Fault", "FyersBook", "FyersError", "FyersFake", "running_fake"]


class FyersFake:
    """Both halves of the fake, sharing one book."""

    def __init__(self, book: FyersBook | None = None) -> None:
        self.book = book or FyersBook()
        self.socket = FakeDataSocket(self.book)
        self.api_url = ""
        self.ws_url = ""
        self._rest = AppServer("fake Fyers REST")

    @property
    def symbols_url(self) -> str:
        """Where the symbol masters are served."""
        return f"{self.api_url}/sym_details"

    async def start(self) -> None:
        """Serve REST and the data socket."""
        self.api_url = await self._rest.start(create_rest_app(self.book, self._rest.stopping))
        self.ws_url = f"ws://127.0.0.1:{await self.socket.start()}"

    async def stop(self) -> None:
        """Stop both servers (a hanging order answer is released at once)."""
        self._rest.stopping.set()
        await self.socket.stop()
        await self._rest.stop()


@asynccontextmanager
async def running_fake(book: FyersBook | None = None) -> AsyncIterator[FyersFake]:
    """A started fake, stopped on exit."""
    fake = FyersFake(book)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
