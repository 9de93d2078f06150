"""What a fake broker offers the one contract suite every adapter passes (issue: real brokers).

Each broker's fake package provides a `FakeKit` (in `tests/fakes/<broker>/kit.py`) and adds
a factory for it to `tests/fakes/kits.py`. The contract suite (`tests/test_broker_contract.py`)
is parametrised over those factories, so the same tests run against every adapter:
login, MARKET order with tag, lookup by tag, order book, positions, LTP, each error class,
ticker subscribe + parse + reconnect, instrument master load and atomic refresh with a
corrupt download rejected. The executor's tests (`tests/test_broker_executor.py`) and the
end-to-end test (`tests/test_broker_e2e.py`) run a strategy on each fake through the
platform's own path (broker factory, stored credential, the feed's `broker` source), for
which a kit also says how to point the settings at its fake, makes a stored credential,
ends a session and shows its order book.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from enum import StrEnum
from typing import Any, Protocol

from brokers.base import BaseBroker
from core.crypto import SecretBox
from core.db.models import BrokerCredential


class FaultKind(StrEnum):
    """The fault switches every fake has (each fake maps them onto its broker's wire)."""

    REJECT = "reject"
    """The next order is refused by the broker (its own rejection answer): OrderRejected."""
    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"
    """The next order is booked but its answer comes after the client's read timeout:
    Ambiguous, and a lookup by tag then finds it."""
    ERROR_5XX = "error_5xx"
    """The next order gets an HTTP 5xx without being booked: Ambiguous, lookup finds none."""
    RATE_LIMIT = "rate_limit"
    """The next order gets the broker's HTTP 429 answer: RateLimited (a NotSent)."""
    TOKEN_EXPIRED = "token_expired"
    """The next call gets the broker's dead-session answer: TokenExpired."""
    SOCKET_DROP = "socket_drop"
    """The market-data socket is closed by the server (the adapter reconnects and
    resubscribes)."""
    MALFORMED_PACKET = "malformed_packet"
    """The next `push_tick` sends a garbage frame in its place (the adapter skips it and
    goes on, without reconnecting)."""


class FakeKit(Protocol):
    """A running fake of one broker, and a logged-in adapter pointed at it."""

    broker_type: str
    """The BrokerType value of the adapter."""

    async def broker(self) -> BaseBroker:
        """A connected adapter with a live session at the fake (the same one every call)."""
        ...

    def fault(self, kind: FaultKind) -> None:
        """Arm one fault for the next matching call or frame."""
        ...

    def set_ltp(self, exchange: str, symbol: str, paise: int) -> None:
        """The price the fake's REST LTP answers and its orders fill at."""
        ...

    async def push_tick(self, exchange: str, symbol: str, paise: int) -> None:
        """Send one tick on the market-data socket to every subscribed client (in the
        broker's own packet format)."""
        ...

    def instrument_master(self, *, corrupt: bool = False) -> None:
        """What the fake's instrument-master download serves next: the normal one, or a
        corrupt one (truncated / missing columns) that the adapter must reject."""
        ...

    async def refresh_instruments(self, broker: BaseBroker) -> None:
        """Make the adapter download and swap in the instrument master now (raises
        brokers.errors.InstrumentMasterInvalid for a corrupt one)."""
        ...

    def orders_received(self) -> int:
        """How many orders the fake has booked so far."""
        ...

    def ticker_connections(self) -> int:
        """How many market-data connections the fake has accepted so far (a reconnect
        counts again)."""
        ...

    # ---- for the executor's and the end-to-end tests: the platform's own path -----------

    def settings(self) -> dict[str, Any]:
        """Settings fields that point the platform's adapter at this fake (e.g.
        `{"kite_api_url": ..., "kite_ws_url": ...}`), for `Settings.model_copy(update=)`."""
        ...

    def credential(self, box: SecretBox, user_id: str) -> BrokerCredential:
        """A new, unsaved credential row of `user_id` holding a live session at the fake,
        its secrets sealed with `box` for that user, as /broker/connect would store it,
        valid (`is_valid`) and expiring after any test clock (the test runs on 25 Nov 2026);
        the broker factory builds the adapter from it."""
        ...

    def end_session(self) -> None:
        """The broker ends the adapter's live session (revoked, or replaced by a login
        elsewhere): the next order gets the broker's own answer for a dead session, which
        the adapter reads as TokenExpired, and nothing is booked."""
        ...

    def order_book(self) -> list[dict[str, Any]]:
        """The orders the fake has booked, oldest first, each as the broker's order book
        writes it (its own field names and values)."""
        ...

    def requests_received(self) -> int:
        """How many calls of the broker's REST API (logins included) the fake has received
        so far; a download of the public instrument master is not one."""
        ...


KitFactory = Callable[[], AbstractAsyncContextManager[FakeKit]]
"""Starts a fake (and its servers), yields its kit, stops it on exit."""

