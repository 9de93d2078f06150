"""The Dhan `FakeKit` (tests/fakes/contract.py): the fake Dhan and a DhanBroker on it.

Each FaultKind maps onto the fake's own wire answers: a reject is Dhan's 400 DH-906
Order_Error, a 5xx its 500 DH-908 (nothing booked), a rate limit its 429 DH-904, an
expired token its 401 DH-901; a socket drop aborts every feed connection without a close
frame, and a malformed packet is a frame with a response code no layout describes.
"""

from __future__ import annotations

import json
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
from tests.fakes.kit_base import FAR_FUTURE, KitBase, Socket, kit_runner

_FAULTS: dict[FaultKind, Fault] = {
    FaultKind.REJECT: Fault("reject", code="DH-906", error_type="Order_Error",
                            message="RMS: Margin Exceeds, Required: 7502.25, Available: 0"),
    FaultKind.ACCEPT_THEN_TIMEOUT: Fault("accept_then_timeout", hang_s=5.0),
    FaultKind.ERROR_5XX: Fault("error_5xx", status=500, message="Internal server error"),
    FaultKind.RATE_LIMIT: Fault("rate_limit"),
    FaultKind.TOKEN_EXPIRED: Fault("token_expired", group="any"),
}
SCRIP_MASTER_PATH = "/api-data/api-scrip-master.csv"
"""The public scrip master (images.dhan.co at Dhan): not a call of the API."""


class DhanKit(KitBase[DhanBroker, DhanFake]):
    """A running fake Dhan, and one DhanBroker logged in to it."""

    broker_type = BrokerType.DHAN.value
    faults = _FAULTS
    end_session_fault = Fault("invalid_token")  # Dhan's 400 DH-906 "Invalid Token"

    def __init__(self, fake: DhanFake) -> None:
        super().__init__(fake)
        self.instruments = DhanInstruments(RealClock())

    def _new_broker(self) -> DhanBroker:
        return broker_for(self.fake, instruments=self.instruments)

    def _socket(self) -> Socket:
        return self.fake.feed

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


dhan_kit = kit_runner(running_fake, DhanKit)
"""The fake started, its kit yielded, both stopped on exit."""
