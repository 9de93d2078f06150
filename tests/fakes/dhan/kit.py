"""The Dhan `FakeKit` (tests/fakes/contract.py): the fake Dhan and a DhanBroker on it.

Each FaultKind maps onto the fake's own wire answers: a reject is Dhan's 400 DH-906
Order_Error, a 5xx its 500 DH-908 (nothing booked), a rate limit its 429 DH-904, an
expired token its 401 DH-901; a socket drop aborts every feed connection without a close
frame, and a malformed packet is a frame with a response code no layout describes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from brokers.base import BaseBroker
from brokers.dhan import DhanBroker
from brokers.dhan.instruments import DhanInstruments
from core.clock import RealClock
from core.crypto import SecretBox
from core.db.enums import BrokerType
from core.db.models import BrokerCredential
from core.ids import new_id
from tests.dhan_kit import broker_for
from tests.fakes.contract import FaultKind
from tests.fakes.dhan import DhanFake, Fault, running_fake
from tests.fakes.dhan.book import LISTED, scrip_master

_FAULTS: dict[FaultKind, Fault] = {
    FaultKind.REJECT: Fault("reject", code="DH-906", error_type="Order_Error",
                            message="RMS: Margin Exceeds, Required: 7502.25, Available: 0"),
    FaultKind.ACCEPT_THEN_TIMEOUT: Fault("accept_then_timeout", hang_s=5.0),
    FaultKind.ERROR_5XX: Fault("error_5xx", status=500, message="Internal server error"),
    FaultKind.RATE_LIMIT: Fault("rate_limit"),
    FaultKind.TOKEN_EXPIRED: Fault("token_expired", group="any"),
}
FAR_FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
"""The session's recorded expiry: never reached on any test's clock (the fake decides)."""
SCRIP_MASTER_PATH = "/api-data/api-scrip-master.csv"
"""The public scrip master (images.dhan.co at Dhan): not a call of the API."""


class DhanKit:
    """A running fake Dhan, and one DhanBroker logged in to it."""

    broker_type = BrokerType.DHAN.value

    def __init__(self, fake: DhanFake) -> None:
        self.fake = fake
        self.instruments = DhanInstruments(RealClock())
        self._broker: DhanBroker | None = None

    async def broker(self) -> BaseBroker:
        """The connected DhanBroker (made on first use)."""
        if self._broker is None:
            self._broker = broker_for(self.fake, instruments=self.instruments)
            await self._broker.connect()
        return self._broker

    async def close(self) -> None:
        """Close the broker, if one was made."""
        if self._broker is not None:
            await self._broker.close()

    def fault(self, kind: FaultKind) -> None:
        """Arm one switch of the fake."""
        if kind is FaultKind.SOCKET_DROP:
            self.fake.feed.drop_all()
        elif kind is FaultKind.MALFORMED_PACKET:
            self.fake.feed.malformed_next += 1
        else:
            self.fake.book.arm(replace(_FAULTS[kind]))  # a fresh copy: faults count down

    def set_ltp(self, exchange: str, symbol: str, paise: int) -> None:
        """The price of `/marketfeed/ltp` and of fills."""
        assert exchange == "NSE", "the fake lists NSE equities"
        self.fake.book.prices[("NSE_EQ", str(LISTED[symbol]))] = Decimal(paise) / 100

    async def push_tick(self, exchange: str, symbol: str, paise: int) -> None:
        """One ticker packet to every connection subscribed to the instrument."""
        assert exchange == "NSE", "the fake lists NSE equities"
        await self.fake.feed.push("NSE_EQ", LISTED[symbol], paise / 100)

    def instrument_master(self, *, corrupt: bool = False) -> None:
        """Serve the normal master, or one cut off a third of the way in."""
        text = scrip_master()
        self.fake.book.scrip_csv = text[: len(text) // 3] if corrupt else text

    async def refresh_instruments(self, broker: BaseBroker) -> None:
        """Download the scrip master and swap it in (InstrumentMasterInvalid keeps the old)."""
        assert isinstance(broker, DhanBroker)
        await broker.refresh_instruments()

    def orders_received(self) -> int:
        """Orders the fake has booked."""
        return len(self.fake.book.orders)

    def ticker_connections(self) -> int:
        """Feed connections the fake has accepted."""
        return self.fake.feed.accepted

    def end_session(self) -> None:
        """The next order is refused as on a session the broker has ended."""
        self.fake.book.arm(Fault("invalid_token"))  # Dhan's 400 DH-906 "Invalid Token"

    def order_book(self) -> list[dict[str, Any]]:
        """The fake's orders as its order book writes them."""
        return list(self.fake.book.orders.values())

    def requests_received(self) -> int:
        """REST API requests the fake has received (not the scrip master's download)."""
        return sum(1 for r in self.fake.book.requests if r.path != SCRIP_MASTER_PATH)

    def settings(self) -> dict[str, Any]:
        """Where the platform finds Dhan: the fake."""
        return {"dhan_api_url": self.fake.api_url, "dhan_auth_url": self.fake.auth_url,
                "dhan_ws_url": self.fake.ws_url,
                "dhan_scrip_master_url": self.fake.scrip_master_url}

    def credential(self, box: SecretBox, user_id: str) -> BrokerCredential:
        """A Dhan connection of `user_id` with a fresh session at the fake (the layout of
        core/connections/vault.py: the client id is one of the sealed secrets too, which
        the connector's session check sends)."""
        extra = json.dumps({"client_id": self.fake.book.client_id})
        return BrokerCredential(
            id=new_id("brk"), user_id=user_id, broker_type=self.broker_type,
            client_id=self.fake.book.client_id,
            encrypted_access_token=box.seal(self.fake.book.issue_access_token(),
                                            owner=user_id),
            encrypted_extra=box.seal(extra, owner=user_id),
            key_id=box.current_key_id, token_expires_at=FAR_FUTURE, is_valid=True)


@asynccontextmanager
async def dhan_kit() -> AsyncIterator[DhanKit]:
    """The fake Dhan started, its kit yielded, both stopped on exit."""
    async with running_fake() as fake:
        kit = DhanKit(fake)
        try:
            yield kit
        finally:
            await kit.close()
