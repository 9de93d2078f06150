"""`FyersBroker`: one Fyers API v3 account behind BaseBroker (BRK-4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import httpx

from brokers.base import (
    AccountInfo,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    OrderRequest,
    Side,
)
from brokers.common.http import Timeouts
from brokers.common.rest import RestBroker, timeouts_from
from brokers.common.session import SessionKeeper
from brokers.common.ws import Backoff
from brokers.errors import BrokerUnavailable, TokenExpired
from brokers.fyers.http import FyersHttp
from brokers.fyers.instruments import FyersInstruments
from brokers.fyers.orders import USER_TAG, rupees_to_paise, tag_for, to_broker_order, to_position
from brokers.fyers.ticker import FyersTicker
from core.clock import Clock
from core.db.enums import BrokerType
from core.settings import Settings

MARKET: Final = 2
PRODUCTS: Final = {"MIS": "INTRADAY", "CNC": "CNC", "NRML": "MARGIN"}
"""Our product names (Kite's) → Fyers productType."""


@dataclass(frozen=True, slots=True)
class FyersCredentials:
    """What an account needs to call Fyers (decrypted from its broker credential)."""

    app_id: str
    access_token: str | None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FyersConfig:
    """Where Fyers is and how long to wait for it."""

    api_url: str = "https://api-t1.fyers.in"
    ws_url: str = "wss://socket.fyers.in/hsm/v1-5/prod"
    symbols_url: str = "https://public.fyers.in/sym_details"
    masters: tuple[str, ...] = ("NSE_CM.csv",)
    """The symbol masters loaded (one per exchange segment traded)."""
    timeouts: Timeouts = field(default_factory=Timeouts)
    ticker_backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_settings(cls, settings: Settings) -> FyersConfig:
        """The configuration from `ALGO_FYERS_*` and `ALGO_BROKER_*`."""
        return cls(api_url=settings.fyers_api_url, ws_url=settings.fyers_ws_url,
                   symbols_url=settings.fyers_symbols_url,
                   timeouts=timeouts_from(settings))


def order_body(request: OrderRequest, ticker: str) -> dict[str, Any]:
    """The JSON of `POST /api/v3/orders/sync` for an intraday MARKET order."""
    if request.order_type != "MARKET":
        raise ValueError(f"only MARKET orders are supported, not {request.order_type}")
    return {"symbol": ticker, "qty": request.quantity, "type": MARKET,
            "side": 1 if request.side is Side.BUY else -1,
            "productType": PRODUCTS.get(request.product, request.product),
            "limitPrice": 0, "stopPrice": 0, "validity": "DAY", "disclosedQty": 0,
            "offlineOrder": False, "stopLoss": 0, "takeProfit": 0,
            "orderTag": request.client_tag, "isSliceOrder": False}


class FyersBroker(RestBroker[FyersHttp]):
    """A Fyers account (brokers/common/session.py guards its token)."""

    broker_type = BrokerType.FYERS.value

    def __init__(self, account: str, credentials: FyersCredentials, config: FyersConfig,
                 instruments: FyersInstruments, clock: Clock, *,
                 reload: Callable[[], Awaitable[FyersCredentials]] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._account = account
        self._config = config
        self._instruments = instruments
        self._clock = clock
        self._http = FyersHttp(config.api_url, credentials.app_id,
                               access_token=credentials.access_token,
                               symbols_url=config.symbols_url, timeouts=config.timeouts,
                               transport=transport)
        self._session = SessionKeeper(
            credentials, clock, broker="Fyers", reload=reload,
            on_change=lambda c: self._http.set_session(c.app_id, c.access_token))

    @staticmethod
    def tag_for(order_id: str) -> str:
        """Fyers' `orderTag` for our order id (≤ 30 alphanumeric characters)."""
        return tag_for(order_id)

    async def validate(self) -> AccountInfo:
        """`GET /api/v3/profile` with the stored token."""
        profile = await self._session.call(self._http.profile)
        return AccountInfo(account_id=profile.fy_id, name=profile.name)

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """An intraday MARKET order with our tag; OPEN until `get_order` says otherwise.
        The ticker comes from the symbol master when it is loaded (the ticker loads it),
        else it is the ordinary share's `EXCHANGE:SYMBOL-EQ`."""
        body = order_body(request, self._instruments.ticker(request.exchange, request.symbol))
        order_id = await self._session.call(lambda: self._http.place_order(body))
        return BrokerOrder(broker_order_id=order_id, client_tag=request.client_tag,
                           status=BrokerOrderStatus.OPEN, raw={"id": order_id})

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """The order's latest state (`GET /orders?id=`)."""
        orders = await self._session.call(lambda: self._http.orders(order_id=broker_order_id))
        matches = [o for o in orders if o.id == broker_order_id]
        if not matches:
            raise BrokerUnavailable(f"Fyers returned no order {broker_order_id}")
        return to_broker_order(matches[-1])

    async def get_orders(self) -> list[BrokerOrder]:
        """Today's order book."""
        return [to_broker_order(o) for o in await self._session.call(self._http.orders)]

    async def find_by_tag(self, client_tag: str) -> BrokerOrder | None:
        """The order carrying our tag, by Fyers' own filter (`?order_tag=1:<tag>`)."""
        orders = await self._session.call(lambda: self._http.orders(tag=USER_TAG + client_tag))
        matches = [o for o in map(to_broker_order, orders) if o.client_tag == client_tag]
        return matches[-1] if matches else None

    async def get_positions(self) -> list[BrokerPosition]:
        """Today's net positions."""
        return [to_position(p) for p in await self._session.call(self._http.positions)]

    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """`GET /data/quotes` in paise."""
        ticker = self._instruments.ticker(exchange, symbol)
        quotes = await self._session.call(lambda: self._http.quotes([ticker]))
        price = next((q.v.lp for q in quotes if q.n == ticker and q.s == "ok"), None)
        if price is None or price <= 0:
            raise BrokerUnavailable(f"Fyers has no price for {ticker}")
        return rupees_to_paise(price)

    def ticker(self, *, lite: bool = True) -> FyersTicker:
        """A market-data stream on the account's session (lite mode: all a Tick needs)."""
        token = self._session.credentials.access_token
        if not token:
            raise TokenExpired("no Fyers access token: log in to Fyers again")
        return FyersTicker(self._config.ws_url, token, self._instruments,
                           ensure_master=self.ensure_instruments, clock=self._clock,
                           lite=lite, backoff=self._config.ticker_backoff)

    async def ensure_instruments(self) -> None:
        """Load today's symbol master unless it is loaded."""
        await self._instruments.ensure(self._download_masters)

    async def refresh_instruments(self) -> None:
        """Download and swap in the symbol master now."""
        await self._instruments.refresh(self._download_masters)

    async def _download_masters(self) -> str:
        texts = [await self._http.symbol_master(name) for name in self._config.masters]
        return "\n".join(text.rstrip("\n") for text in texts) + "\n"
