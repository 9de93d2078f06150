"""The Angel One `FakeKit` (tests/fakes/contract.py): the fake SmartAPI and an
AngelOneBroker logged in to it (client code + PIN + TOTP).

Each FaultKind maps onto the fake's own wire answers: a reject is a placeOrder answer with
status false and an error code, a 5xx the gateway's 502 HTML page (nothing booked), a rate
limit a 429 "exceeding access rate", an expired token the 200 `{"success": false,
"errorCode": "AG8001"}` answer; a socket drop aborts every feed connection without a close
frame, and a malformed packet replaces the next tick frame with bytes of no mode.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from brokers.angel_one import AngelOneBroker
from brokers.angel_one.instruments import AngelInstruments
from brokers.base import BaseBroker
from core.clock import RealClock
from core.crypto import SecretBox
from core.db.enums import BrokerType
from core.db.models import BrokerCredential
from core.ids import new_id
from tests.angel_kit import broker_for, session_at
from tests.fakes.angel import AngelFake, Fault, Quote, running_fake
from tests.fakes.angel.master import corrupt_json, listing, master_json
from tests.fakes.contract import FaultKind
from tests.fakes.kit_base import FAR_FUTURE, KitBase, Socket, kit_runner

_FAULTS: dict[FaultKind, Fault] = {
    FaultKind.REJECT: Fault("reject", code="AB4036",
                            message="Your order has been rejected due to insufficient funds"),
    FaultKind.ACCEPT_THEN_TIMEOUT: Fault("accept_then_timeout", hang_s=5.0),
    FaultKind.ERROR_5XX: Fault("error_5xx"),
    FaultKind.RATE_LIMIT: Fault("rate_limit"),
    FaultKind.TOKEN_EXPIRED: Fault("token_expired", group="any"),
}
_EXCHANGE_TYPES = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "CDS": 13}


def _angel_symbol(exchange: str, symbol: str) -> str:
    return f"{symbol}-EQ" if exchange == "NSE" else symbol


class AngelKit(KitBase[AngelOneBroker, AngelFake]):
    """A running fake SmartAPI, and one AngelOneBroker logged in to it."""

    broker_type = BrokerType.ANGEL_ONE.value
    faults = _FAULTS
    end_session_fault = Fault("token_expired")  # SmartAPI's AG8001 Invalid Token

    def __init__(self, fake: AngelFake) -> None:
        super().__init__(fake)
        self.instruments = AngelInstruments(RealClock())

    def _new_broker(self) -> AngelOneBroker:
        return broker_for(self.fake, instruments=self.instruments)

    def _socket(self) -> Socket:
        return self.fake.feed

    async def _start(self, broker: AngelOneBroker) -> None:
        """Connected, and logged in with the PIN and a TOTP."""
        await broker.connect()
        await broker.login()

    def set_ltp(self, exchange: str, symbol: str, paise: int) -> None:
        """The price of getLtpData and of fills."""
        self.fake.book.prices[(exchange, _angel_symbol(exchange, symbol))] = paise

    async def push_tick(self, exchange: str, symbol: str, paise: int) -> None:
        """One binary tick to every connection subscribed to the instrument."""
        row = listing().get((exchange, _angel_symbol(exchange, symbol)))
        assert row is not None, f"{exchange}:{symbol} is not listed"
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        await self.fake.feed.push(Quote(_EXCHANGE_TYPES[exchange], row["token"], paise,
                                        exchange_ts_ms=now_ms))

    def instrument_master(self, *, corrupt: bool = False) -> None:
        """Serve the normal master, or a truncated one."""
        self.fake.book.master = corrupt_json() if corrupt else master_json()

    async def refresh_instruments(self, broker: BaseBroker) -> None:
        """Download the scrip master and swap it in (InstrumentMasterInvalid keeps the old)."""
        assert isinstance(broker, AngelOneBroker)
        await broker.ensure_instruments(force=True)

    def settings(self) -> dict[str, Any]:
        """Where the platform finds SmartAPI: the fake."""
        return {"angel_api_url": self.fake.api_url, "angel_ws_url": self.fake.ws_url,
                "angel_instruments_url": self.fake.master_url}

    def credential(self, box: SecretBox, user_id: str) -> BrokerCredential:
        """An Angel One connection of `user_id` with a fresh session at the fake (the
        layout of core/connections/vault.py)."""
        session = session_at(self.fake)
        extra = {"client_id": self.fake.book.client_code, "pin": self.fake.book.pin,
                 "totp_secret": self.fake.book.totp_secret,
                 "refresh_token": session.refresh_token, "feed_token": session.feed_token}
        return BrokerCredential(
            id=new_id("brk"), user_id=user_id, broker_type=self.broker_type,
            client_id=self.fake.book.client_code,
            encrypted_api_key=box.seal(self.fake.book.api_key, owner=user_id),
            encrypted_access_token=box.seal(session.jwt_token, owner=user_id),
            encrypted_extra=box.seal(json.dumps(extra, sort_keys=True), owner=user_id),
            key_id=box.current_key_id, token_expires_at=FAR_FUTURE, is_valid=True)


angel_kit = kit_runner(running_fake, AngelKit)
"""The fake started, its kit yielded, both stopped on exit."""
