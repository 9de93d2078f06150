"""`ZerodhaBroker`: one Kite Connect account behind BaseBroker (BRK-2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from brokers.base import (
    AccountInfo,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    OrderRequest,
)
from brokers.common.http import Timeouts
from brokers.common.rest import RestBroker, timeouts_from
from brokers.common.session import SessionKeeper
from brokers.common.ws import Backoff
from brokers.errors import BrokerUnavailable, TokenExpired
from brokers.zerodha.http import KiteHttp, OrderParams
from brokers.zerodha.instruments import KiteInstruments
from brokers.zerodha.orders import rupees_to_paise, tag_for, to_broker_order, to_position
from brokers.zerodha.ticker import KiteTicker, Mode
from core.clock import Clock
from core.db.enums import BrokerType
from core.settings import Settings


@dataclass(frozen=True, slots=True)
class KiteCredentials:
    """What an account needs to call Kite (decrypted from its broker credential)."""

    api_key: str
    access_token: str | None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KiteConfig:
    """Where Kite is and how long to wait for it."""

    api_url: str = "https://api.kite.trade"
    ws_url: str = "wss://ws.kite.trade"
    timeouts: Timeouts = field(default_factory=Timeouts)
    ticker_backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_settings(cls, settings: Settings) -> KiteConfig:
        """The configuration from `ALGO_KITE_*` and `ALGO_BROKER_*`."""
        return cls(api_url=settings.kite_api_url, ws_url=settings.kite_ws_url,
                   timeouts=timeouts_from(settings))


class ZerodhaBroker(RestBroker[KiteHttp]):
    """A Zerodha account (brokers/common/session.py guards its token: after Kite says
    TokenException the credential is re-read before the next call)."""

    broker_type = BrokerType.ZERODHA.value

    def __init__(self, account: str, credentials: KiteCredentials, config: KiteConfig,
                 instruments: KiteInstruments, clock: Clock, *,
                 reload: Callable[[], Awaitable[KiteCredentials]] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._account = account
        self._config = config
        self._instruments = instruments
        self._clock = clock
        self._http = KiteHttp(config.api_url, credentials.api_key,
                              access_token=credentials.access_token,
                              timeouts=config.timeouts, transport=transport)
        self._session = SessionKeeper(
            credentials, clock, broker="Zerodha", reload=reload,
            on_change=lambda c: self._http.set_session(c.api_key, c.access_token))

    @staticmethod
    def tag_for(order_id: str) -> str:
        """Kite's `tag` for our order id (≤ 20 alphanumeric characters)."""
        return tag_for(order_id)

    async def validate(self) -> AccountInfo:
        """`GET /user/profile` with the stored token."""
        profile = await self._session.call(self._http.profile)
        return AccountInfo(account_id=profile.user_id, name=profile.user_name)

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """A regular MARKET order with our tag; OPEN until `get_order` says otherwise."""
        params = OrderParams(exchange=request.exchange, tradingsymbol=request.symbol,
                             transaction_type=request.side.value, quantity=request.quantity,
                             tag=request.client_tag, product=request.product,
                             order_type=request.order_type)
        order_id = await self._session.call(lambda: self._http.place_order(params))
        return BrokerOrder(broker_order_id=order_id, client_tag=request.client_tag,
                           status=BrokerOrderStatus.OPEN, raw={"order_id": order_id})

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """The order's latest state, from its history."""
        history = await self._session.call(lambda: self._http.order_history(broker_order_id))
        if not history:
            raise BrokerUnavailable(f"Kite returned no history for order {broker_order_id}")
        return to_broker_order(history[-1])

    async def get_orders(self) -> list[BrokerOrder]:
        """Today's order book (Kite keeps one day)."""
        return [to_broker_order(o) for o in await self._session.call(self._http.orders)]

    async def get_positions(self) -> list[BrokerPosition]:
        """Today's net positions."""
        positions = await self._session.call(self._http.positions)
        return [to_position(p) for p in positions.net]

    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """`GET /quote/ltp` in paise."""
        key = f"{exchange}:{symbol}"
        quotes = await self._session.call(lambda: self._http.ltp([key]))
        quote = quotes.get(key)
        if quote is None or quote.last_price <= 0:
            raise BrokerUnavailable(f"Kite has no price for {key}")
        return rupees_to_paise(quote.last_price)

    def ticker(self, *, mode: Mode = "ltp") -> KiteTicker:
        """A market-data stream on the account's session (LTP mode: all a Tick needs)."""
        credentials = self._session.credentials
        token = credentials.access_token
        if not token:
            raise TokenExpired("no Kite access token: log in to Zerodha again")
        return KiteTicker(self._config.ws_url, credentials.api_key, token,
                          self._instruments, ensure_master=self.ensure_instruments,
                          clock=self._clock, mode=mode, backoff=self._config.ticker_backoff)

    async def ensure_instruments(self) -> None:
        """Load today's instrument master unless it is loaded."""
        await self._instruments.ensure(lambda: self._session.call(self._http.instruments))
