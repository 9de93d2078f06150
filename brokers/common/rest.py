"""What every REST adapter's `BaseBroker` shares: the account name, the pooled REST client
it exposes (and closes), a lazy `connect`, and the timeouts read from settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Generic, Protocol, TypeVar

from brokers.base import BaseBroker
from brokers.common.http import Timeouts
from core.settings import Settings


class Closable(Protocol):
    """A REST client with a connection pool to close."""

    async def close(self) -> None: ...


H = TypeVar("H", bound=Closable)


def timeouts_from(settings: Settings) -> Timeouts:
    """The default timeouts with `ALGO_BROKER_CONNECT_TIMEOUT_S` / `_READ_TIMEOUT_S`."""
    return replace(Timeouts(), connect_s=settings.broker_connect_timeout_s,
                   read_s=settings.broker_read_timeout_s)


class RestBroker(BaseBroker, Generic[H]):
    """A `BaseBroker` over one REST client (`_http`) for one account (`_account`)."""

    _account: str
    _http: H

    @property
    def account(self) -> str:
        """`{broker_type}:{credential id}`."""
        return self._account

    @property
    def http(self) -> H:
        """The account's REST client (login and instrument downloads use it)."""
        return self._http

    async def connect(self) -> None:
        """Nothing to open eagerly: the pool connects on the first request."""

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.close()
