"""An account's broker session kept fresh: a token known to be dead is refused before any
request is made, and after the broker said the token is bad the credential is re-read
(the user may have logged in again since) before the next call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from brokers.errors import TokenExpired
from core.clock import Clock

T = TypeVar("T")


class Credential(Protocol):
    """What the session needs to know of an adapter's decrypted credential."""

    @property
    def access_token(self) -> str | None: ...

    @property
    def expires_at(self) -> datetime | None: ...


C = TypeVar("C", bound=Credential)


class SessionKeeper(Generic[C]):
    """Runs an account's calls with a live session; `on_change` hands a re-read credential
    to the adapter's HTTP client."""

    def __init__(self, credentials: C, clock: Clock, *, broker: str,
                 reload: Callable[[], Awaitable[C]] | None,
                 on_change: Callable[[C], None]) -> None:
        self._credentials = credentials
        self._clock = clock
        self._broker = broker
        self._reload = reload
        self._on_change = on_change
        self._stale = not credentials.access_token
        """Re-read the credential before the next call (none yet, or the broker refused)."""

    @property
    def credentials(self) -> C:
        """The credential in use."""
        return self._credentials

    async def ensure(self) -> C:
        """The credential, once it is believed live (TokenExpired if it is not)."""
        await self._fresh()
        return self._credentials

    async def call(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` with a session believed live; TokenExpired marks it for a re-read."""
        await self._fresh()
        try:
            return await call()
        except TokenExpired:
            self._stale = True
            raise

    async def _fresh(self) -> None:
        if (self._stale or self._dead()) and self._reload is not None:
            self._credentials = await self._reload()
            self._on_change(self._credentials)
            self._stale = False
        if self._dead() or not self._credentials.access_token:
            raise TokenExpired(f"the {self._broker} session has expired: "
                               f"log in to {self._broker} again")

    def _dead(self) -> bool:
        expires = self._credentials.expires_at
        return expires is not None and self._clock.now() >= expires
