"""`ZerodhaBroker`: one Kite Connect account behind BaseBroker (BRK-2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

import httpx

from brokers.base import (
    AccountInfo,
    BaseBroker,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    OrderRequest,
)
from brokers.common.http import Timeouts
from brokers.common.ws import Backoff
from brokers.errors import BrokerUnavailable, TokenExpired
from brokers.zerodha.http import KiteHttp, OrderParams
from brokers.zerodha.instruments import KiteInstruments
from brokers.zerodha.orders import rupees_to_paise, tag_for, to_broker_order, to_position
from brokers.zerodha.ticker import KiteTicker, Mode
from core.clock import Clock
from core.db.enums import BrokerType
from core.settings import Settings

T = TypeVar("T")


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
                   timeouts=replace(Timeouts(), connect_s=settings.broker_connect_timeout_s,
                                    read_s=settings.broker_read_timeout_s))


class ZerodhaBroker(BaseBroker):
    """A Zerodha account. A token known to be dead is refused here, before any request;
    after Kite says TokenException the credential is re-read (the user may have logged in
    again since) before the next call."""

    broker_type = BrokerType.ZERODHA.value

    def __init__(self, account: str, credentials: KiteCredentials, config: KiteConfig,
                 instruments: KiteInstruments, clock: Clock, *,
                 reload: Callable[[], Awaitable[KiteCredentials]] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._account = account
        self._credentials = credentials
        self._config = config
        self._instruments = instruments
        self._clock = clock
        self._reload = reload
        self._stale = not credentials.access_token
        """Re-read the credential before the next call (none yet, or Kite refused it)."""
        self._http = KiteHttp(config.api_url, credentials.api_key,
                              access_token=credentials.access_token,
                              timeouts=config.timeouts, transport=transport)

    @property
    def account(self) -> str:
        """`zerodha:{credential id}`."""
        return self._account

    @property
    def http(self) -> KiteHttp:
        """The account's REST client (login and instrument downloads use it)."""
        return self._http

    @staticmethod
    def tag_for(order_id: str) -> str:
        """Kite's `tag` for our order id (≤ 20 alphanumeric characters)."""
        return tag_for(order_id)

    async def connect(self) -> None:
        """Nothing to open eagerly: the pool connects on the first request."""

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.close()

    async def validate(self) -> AccountInfo:
        """`GET /user/profile` with the stored token."""
        profile = await self._authed(self._http.profile)
        return AccountInfo(account_id=profile.user_id, name=profile.user_name)

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """A regular MARKET order with our tag; OPEN until `get_order` says otherwise."""
        params = OrderParams(exchange=request.exchange, tradingsymbol=request.symbol,
                             transaction_type=request.side.value, quantity=request.quantity,
                             tag=request.client_tag, product=request.product,
                             order_type=request.order_type)
        order_id = await self._authed(lambda: self._http.place_order(params))
        return BrokerOrder(broker_order_id=order_id, client_tag=request.client_tag,
                           status=BrokerOrderStatus.OPEN, raw={"order_id": order_id})

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """The order's latest state, from its history."""
        history = await self._authed(lambda: self._http.order_history(broker_order_id))
        if not history:
            raise BrokerUnavailable(f"Kite returned no history for order {broker_order_id}")
        return to_broker_order(history[-1])

    async def get_orders(self) -> list[BrokerOrder]:
        """Today's order book (Kite keeps one day)."""
        return [to_broker_order(o) for o in await self._authed(self._http.orders)]

    async def get_positions(self) -> list[BrokerPosition]:
        """Today's net positions."""
        positions = await self._authed(self._http.positions)
        return [to_position(p) for p in positions.net]

    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """`GET /quote/ltp` in paise."""
        key = f"{exchange}:{symbol}"
        quotes = await self._authed(lambda: self._http.ltp([key]))
        quote = quotes.get(key)
        if quote is None or quote.last_price <= 0:
            raise BrokerUnavailable(f"Kite has no price for {key}")
        return rupees_to_paise(quote.last_price)

    def ticker(self, *, mode: Mode = "ltp") -> KiteTicker:
        """A market-data stream on the account's session (LTP mode: all a Tick needs)."""
        token = self._credentials.access_token
        if not token:
            raise TokenExpired("no Kite access token: log in to Zerodha again")
        return KiteTicker(self._config.ws_url, self._credentials.api_key, token,
                          self._instruments, ensure_master=self.ensure_instruments,
                          clock=self._clock, mode=mode, backoff=self._config.ticker_backoff)

    async def ensure_instruments(self) -> None:
        """Load today's instrument master unless it is loaded."""
        await self._instruments.ensure(lambda: self._authed(self._http.instruments))

    async def _authed(self, call: Callable[[], Awaitable[T]]) -> T:
        await self._fresh_token()
        try:
            return await call()
        except TokenExpired:
            self._stale = True
            raise

    async def _fresh_token(self) -> None:
        expires = self._credentials.expires_at
        dead = expires is not None and self._clock.now() >= expires
        if (self._stale or dead) and self._reload is not None:
            self._credentials = await self._reload()
            self._http.set_session(self._credentials.api_key, self._credentials.access_token)
            self._stale = False
            expires = self._credentials.expires_at
            dead = expires is not None and self._clock.now() >= expires
        if dead or not self._credentials.access_token:
            raise TokenExpired("the Zerodha session has expired: log in to Zerodha again")
