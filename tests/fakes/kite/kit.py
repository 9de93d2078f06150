"""The Zerodha `FakeKit` (tests/fakes/contract.py): the fake Kite and a ZerodhaBroker on it.

Each FaultKind maps onto the fake's own wire answers: a reject is Kite's 400
MarginException, a 5xx its 503 NetworkException (nothing booked), a rate limit its 429,
an expired token its 403 TokenException; a socket drop aborts every ticker connection
without a close frame, and a malformed packet is a frame announcing a 7-byte packet.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from brokers.base import BaseBroker
from brokers.zerodha import ZerodhaBroker
from brokers.zerodha.instruments import KiteInstruments
from core.clock import RealClock
from core.crypto import SecretBox
from core.db.enums import BrokerType
from core.db.models import BrokerCredential
from core.ids import new_id
from tests.fakes.contract import FaultKind
from tests.fakes.kit_base import FAR_FUTURE, KitBase, Socket, kit_runner
from tests.fakes.kite import Fault, KiteBook, KiteFake, Quote, running_fake
from tests.fakes.kite.book import sample_instruments
from tests.zerodha_kit import broker_for

_FAULTS: dict[FaultKind, Fault] = {
    FaultKind.REJECT: Fault("reject", error_type="MarginException",
                            message="Insufficient funds. Required margin is 25007.50"),
    FaultKind.ACCEPT_THEN_TIMEOUT: Fault("accept_then_timeout", hang_s=5.0),
    FaultKind.ERROR_5XX: Fault("error_5xx", status=503, error_type="NetworkException",
                               message="Gateway timed out"),
    FaultKind.RATE_LIMIT: Fault("rate_limit"),
    FaultKind.TOKEN_EXPIRED: Fault("token_expired", group="any"),
}


def _truncated_master() -> str:
    """The first third of the master, cut mid-row: a download that broke off."""
    text = sample_instruments()
    return text[: len(text) // 3]


class KiteKit(KitBase[ZerodhaBroker, KiteFake]):
    """A running fake Kite, and one ZerodhaBroker logged in to it."""

    broker_type = BrokerType.ZERODHA.value
    faults = _FAULTS
    end_session_fault = Fault("token_expired")  # Kite's 403 TokenException

    def __init__(self, fake: KiteFake) -> None:
        super().__init__(fake)
        self.instruments = KiteInstruments(RealClock())
        self._listing = KiteBook()
        """The exchange's instruments, whatever (corrupt) master the fake serves."""

    def _new_broker(self) -> ZerodhaBroker:
        return broker_for(self.fake, instruments=self.instruments)

    def _socket(self) -> Socket:
        return self.fake.ticker

    def set_ltp(self, exchange: str, symbol: str, paise: int) -> None:
        """The price of `/quote/ltp` and of fills."""
        self.fake.book.prices[f"{exchange}:{symbol}"] = Decimal(paise) / 100

    async def push_tick(self, exchange: str, symbol: str, paise: int) -> None:
        """One binary tick to every connection subscribed to the instrument."""
        token = self._listing.token_of(f"{exchange}:{symbol}")  # not what is served now
        assert token is not None, f"{exchange}:{symbol} is not listed"
        await self.fake.ticker.push(Quote(token, paise))

    def instrument_master(self, *, corrupt: bool = False) -> None:
        """Serve the normal master, or a truncated one."""
        self.fake.book.instruments_csv = _truncated_master() if corrupt \
            else sample_instruments()

    async def refresh_instruments(self, broker: BaseBroker) -> None:
        """Download `/instruments` and swap it in (InstrumentMasterInvalid keeps the old)."""
        assert isinstance(broker, ZerodhaBroker)
        self.instruments.load(await broker.http.instruments())

    def order_book(self) -> list[dict[str, Any]]:
        """The fake's orders as its order book writes them."""
        return self.fake.book.order_book()

    def settings(self) -> dict[str, Any]:
        """Where the platform finds Kite: the fake."""
        return {"kite_api_url": self.fake.api_url, "kite_ws_url": self.fake.ws_url}

    def credential(self, box: SecretBox, user_id: str) -> BrokerCredential:
        """A Zerodha connection of `user_id` with a fresh session at the fake."""
        return BrokerCredential(
            id=new_id("brk"), user_id=user_id, broker_type=self.broker_type,
            encrypted_api_key=box.seal(self.fake.book.api_key, owner=user_id),
            encrypted_access_token=box.seal(self.fake.book.issue_access_token(),
                                            owner=user_id),
            key_id=box.current_key_id,
            token_expires_at=FAR_FUTURE, is_valid=True)


kite_kit = kit_runner(running_fake, KiteKit)
"""The fake started, its kit yielded, both stopped on exit."""
