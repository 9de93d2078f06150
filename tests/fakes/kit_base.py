"""What the four `FakeKit`s (tests/fakes/contract.py) share: one adapter made on first use
and closed with the kit, the fault switches of the market-data socket, the counts read off
the fake's book, and the context manager that runs a fake with its kit.

A kit names its socket (`_socket`), its REST faults (`faults`), the fault that ends a
session (`end_session_fault`) and how its adapter is made (`_new_broker`)."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from brokers.base import BaseBroker
from tests.fakes.contract import FaultKind

FAR_FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
"""The session's recorded expiry: never reached on any test's clock (the fake decides)."""


class Socket(Protocol):
    """A fake's market-data server, as the kit switches its faults."""

    malformed_next: int
    accepted: int

    def drop_all(self) -> None: ...


class Fake(Protocol):
    """A running fake, as the kit reads its book."""

    @property
    def book(self) -> Any: ...


B = TypeVar("B", bound=BaseBroker)
F = TypeVar("F", bound=Fake)
K = TypeVar("K", bound="KitBase[Any, Any]")


class KitBase(abc.ABC, Generic[B, F]):
    """A running fake, and one adapter logged in to it."""

    broker_type: str
    faults: ClassVar[Mapping[FaultKind, Any]]
    """The book's fault for each FaultKind the socket does not play."""
    end_session_fault: ClassVar[Any]
    """The book's fault for a session the broker has ended."""

    def __init__(self, fake: F) -> None:
        self.fake = fake
        self._broker: B | None = None

    @abc.abstractmethod
    def _new_broker(self) -> B:
        """The adapter, pointed at the fake."""

    @abc.abstractmethod
    def _socket(self) -> Socket:
        """The fake's market-data server."""

    async def _start(self, broker: B) -> None:
        await broker.connect()

    async def broker(self) -> BaseBroker:
        """The connected adapter (made on first use)."""
        if self._broker is None:
            self._broker = self._new_broker()
            await self._start(self._broker)
        return self._broker

    async def close(self) -> None:
        """Close the broker, if one was made."""
        if self._broker is not None:
            await self._broker.close()

    def fault(self, kind: FaultKind) -> None:
        """Arm one switch of the fake."""
        if kind is FaultKind.SOCKET_DROP:
            self._socket().drop_all()
        elif kind is FaultKind.MALFORMED_PACKET:
            self._socket().malformed_next += 1
        else:
            self.fake.book.arm(replace(self.faults[kind]))  # a fresh copy: faults count down

    def orders_received(self) -> int:
        """Orders the fake has booked."""
        return len(self.fake.book.orders)

    def ticker_connections(self) -> int:
        """Market-data connections the fake has accepted."""
        return self._socket().accepted

    def end_session(self) -> None:
        """The next order is refused as on a session the broker has ended."""
        self.fake.book.arm(replace(self.end_session_fault))

    def order_book(self) -> list[dict[str, Any]]:
        """The fake's orders as its order book writes them."""
        return list(self.fake.book.orders.values())

    def requests_received(self) -> int:
        """REST requests the fake has received."""
        return len(self.fake.book.requests)


def kit_runner(running_fake: Callable[[], AbstractAsyncContextManager[F]],
               make_kit: Callable[[F], K]) -> Callable[[], AbstractAsyncContextManager[K]]:
    """The kit factory: the fake started, its kit yielded, both stopped on exit."""

    @asynccontextmanager
    async def run() -> AsyncIterator[K]:
        async with running_fake() as fake:
            kit = make_kit(fake)
            try:
                yield kit
            finally:
                await kit.close()

    return run
