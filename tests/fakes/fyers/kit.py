"""The Fyers `FakeKit` (tests/fakes/contract.py): the fake Fyers and a FyersBroker on it.

Each FaultKind maps onto the fake's own wire answers: a reject is Fyers' 400 with code
-99, a 5xx a 503 (nothing booked), a rate limit its 429 / -429, an expired token its 401
/ -8; a socket drop aborts every data-socket connection without a close frame, and a
malformed packet is a data frame announcing five records that holds half of one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from brokers.base import BaseBroker
from brokers.fyers import FyersBroker
from brokers.fyers.instruments import FyersInstruments
from core.clock import RealClock
from core.crypto import SecretBox
from core.db.enums import BrokerType
from core.db.models import BrokerCredential
from core.ids import new_id
from tests.fakes.contract import FaultKind
from tests.fakes.fyers import Fault, FyersFake, running_fake
from tests.fakes.fyers.book import sample_master, topic_of
from tests.fakes.kit_base import FAR_FUTURE, KitBase, Socket, kit_runner
from tests.fyers_kit import broker_for

_FAULTS: dict[FaultKind, Fault] = {
    FaultKind.REJECT: Fault("reject", code=-99,
                            message="RMS:Margin Shortfall:INR 25,007.50 Available:INR 0.00"),
    FaultKind.ACCEPT_THEN_TIMEOUT: Fault("accept_then_timeout", hang_s=5.0),
    FaultKind.ERROR_5XX: Fault("error_5xx", status=503, message="Service Unavailable"),
    FaultKind.RATE_LIMIT: Fault("rate_limit"),
    FaultKind.TOKEN_EXPIRED: Fault("token_expired", group="any"),
}


def truncated_master() -> str:
    """The first third of the master, cut mid-row: a download that broke off."""
    text = sample_master()
    return text[: len(text) // 3]


class FyersKit(KitBase[FyersBroker, FyersFake]):
    """A running fake Fyers, and one FyersBroker logged in to it."""

    broker_type = BrokerType.FYERS.value
    faults = _FAULTS
    end_session_fault = Fault("token_expired")  # Fyers' 401 / -8

    def __init__(self, fake: FyersFake) -> None:
        super().__init__(fake)
        self.instruments = FyersInstruments(RealClock())

    def _new_broker(self) -> FyersBroker:
        return broker_for(self.fake, instruments=self.instruments)

    def _socket(self) -> Socket:
        return self.fake.socket

    def set_ltp(self, exchange: str, symbol: str, paise: int) -> None:
        """The price of `/data/quotes` and of fills."""
        self.fake.book.prices[f"{exchange}:{symbol}-EQ"] = Decimal(paise) / 100

    async def push_tick(self, exchange: str, symbol: str, paise: int) -> None:
        """One HSM data frame to every connection subscribed to the instrument."""
        topic = topic_of(f"{exchange}:{symbol}-EQ")  # the listing, not what is served now
        assert topic is not None, f"{exchange}:{symbol} is not listed"
        await self.fake.socket.push(topic, paise)

    def instrument_master(self, *, corrupt: bool = False) -> None:
        """Serve the normal master, or a truncated one."""
        self.fake.book.master_csv = truncated_master() if corrupt else sample_master()

    async def refresh_instruments(self, broker: BaseBroker) -> None:
        """Download NSE_CM.csv and swap it in (InstrumentMasterInvalid keeps the old)."""
        assert isinstance(broker, FyersBroker)
        await broker.refresh_instruments()

    def order_book(self) -> list[dict[str, Any]]:
        """The fake's orders as its order book writes them."""
        return self.fake.book.order_book()

    def settings(self) -> dict[str, Any]:
        """Where the platform finds Fyers: the fake."""
        return {"fyers_api_url": self.fake.api_url, "fyers_ws_url": self.fake.ws_url,
                "fyers_symbols_url": self.fake.symbols_url}

    def credential(self, box: SecretBox, user_id: str) -> BrokerCredential:
        """A Fyers connection of `user_id` with a fresh session at the fake."""
        return BrokerCredential(
            id=new_id("brk"), user_id=user_id, broker_type=self.broker_type,
            client_id=self.fake.book.fy_id,
            encrypted_api_key=box.seal(self.fake.book.app_id, owner=user_id),
            encrypted_access_token=box.seal(self.fake.book.issue_access_token(),
                                            owner=user_id),
            key_id=box.current_key_id, token_expires_at=FAR_FUTURE, is_valid=True)


fyers_kit = kit_runner(running_fake, FyersKit)
"""The fake started, its kit yielded, both stopped on exit."""
