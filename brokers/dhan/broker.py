"""`DhanBroker`: one Dhan account behind BaseBroker (BRK-3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from brokers.base import (
    AccountInfo,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
)
from brokers.common.http import Timeouts
from brokers.common.rest import RestBroker, timeouts_from
from brokers.common.session import SessionKeeper
from brokers.common.ws import Backoff
from brokers.dhan import wire
from brokers.dhan.http import DhanHttp
from brokers.dhan.instruments import SEGMENTS, DhanInstrument, DhanInstruments
from brokers.dhan.orders import (
    PRODUCTS,
    rupees_to_paise,
    status_of,
    tag_for,
    to_broker_order,
    to_position,
)
from brokers.dhan.ticker import DhanTicker
from brokers.errors import (
    BrokerError,
    BrokerUnavailable,
    NotSent,
    OrderRejected,
    TokenExpired,
)
from core.clock import Clock
from core.db.enums import BrokerType
from core.settings import Settings

EXCHANGE_OF_SEGMENT = {segment: exchange for segment, _, exchange in SEGMENTS.values()}


@dataclass(frozen=True, slots=True)
class DhanCredentials:
    """What an account needs to call Dhan (decrypted from its broker credential)."""

    client_id: str
    access_token: str | None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DhanConfig:
    """Where Dhan is and how long to wait for it."""

    api_url: str = "https://api.dhan.co/v2"
    auth_url: str = "https://auth.dhan.co"
    ws_url: str = "wss://api-feed.dhan.co"
    scrip_master_url: str = "https://images.dhan.co/api-data/api-scrip-master.csv"
    timeouts: Timeouts = field(default_factory=Timeouts)
    ticker_backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_settings(cls, settings: Settings) -> DhanConfig:
        """The configuration from `ALGO_DHAN_*` and `ALGO_BROKER_*`."""
        return cls(api_url=settings.dhan_api_url, auth_url=settings.dhan_auth_url,
                   ws_url=settings.dhan_ws_url,
                   scrip_master_url=settings.dhan_scrip_master_url,
                   timeouts=timeouts_from(settings))


class DhanBroker(RestBroker[DhanHttp]):
    """A Dhan account (brokers/common/session.py guards its token)."""

    broker_type = BrokerType.DHAN.value

    def __init__(self, account: str, credentials: DhanCredentials, config: DhanConfig,
                 instruments: DhanInstruments, clock: Clock, *,
                 reload: Callable[[], Awaitable[DhanCredentials]] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._account = account
        self._config = config
        self._instruments = instruments
        self._clock = clock
        self._http = DhanHttp(config.api_url, credentials.client_id,
                              access_token=credentials.access_token,
                              timeouts=config.timeouts, transport=transport)
        self._session = SessionKeeper(
            credentials, clock, broker="Dhan", reload=reload,
            on_change=lambda c: self._http.set_session(c.client_id, c.access_token))

    @property
    def instruments(self) -> DhanInstruments:
        """The scrip master this account trades by."""
        return self._instruments

    @staticmethod
    def tag_for(order_id: str) -> str:
        """Dhan's `correlationId` for our order id (≤ 30 of [a-zA-Z0-9 _-])."""
        return tag_for(order_id)

    async def validate(self) -> AccountInfo:
        """`GET /profile` with the stored token."""
        profile = await self._session.call(self._http.profile)
        return AccountInfo(account_id=profile.dhan_client_id)

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """An intraday MARKET order carrying our tag as `correlationId`."""
        record = await self._tradable(request.exchange, request.symbol)
        product = PRODUCTS.get(request.product.upper())
        if product is None:
            raise OrderRejected(f"Dhan has no product for {request.product!r}")
        def body() -> wire.OrderBody:  # built after the session check: a fresh client id
            return wire.OrderBody(
                dhan_client_id=self._session.credentials.client_id,
                correlation_id=request.client_tag, transaction_type=request.side.value,
                exchange_segment=record.segment, product_type=product,
                security_id=str(record.security_id), quantity=request.quantity,
                order_type=request.order_type)

        placed = await self._session.call(lambda: self._http.place_order(body()))
        return BrokerOrder(broker_order_id=placed.order_id, client_tag=request.client_tag,
                           status=status_of(placed.order_status or "TRANSIT"),
                           raw={"orderId": placed.order_id,
                                "orderStatus": placed.order_status})

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """The order's latest state."""
        return self._order(await self._session.call(lambda: self._http.order(broker_order_id)))

    async def get_orders(self) -> list[BrokerOrder]:
        """Today's order book."""
        return [self._order(o) for o in await self._session.call(self._http.orders)]

    async def find_by_tag(self, client_tag: str) -> BrokerOrder | None:
        """`GET /orders/external/{tag}`; when Dhan does not answer with that order, the
        order book decides (only a full book proves an order absent)."""
        try:
            found = await self._session.call(
                lambda: self._http.order_by_correlation(client_tag))
        except BrokerUnavailable:
            found = None
        if found is not None and found.correlation_id == client_tag:
            return self._order(found)
        return await super().find_by_tag(client_tag)

    async def get_positions(self) -> list[BrokerPosition]:
        """Today's net positions."""
        positions = await self._session.call(self._http.positions)
        return [self._position(p) for p in positions]

    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """`POST /marketfeed/ltp` in paise."""
        await self._master()
        record = self._instruments.get(exchange, symbol)
        if record is None:
            raise BrokerUnavailable(f"{exchange}:{symbol} is not in the Dhan scrip master")
        answer = await self._session.call(
            lambda: self._http.ltp({record.segment: [record.security_id]}))
        quote = answer.data.get(record.segment, {}).get(str(record.security_id))
        if quote is None or quote.last_price <= 0:
            raise BrokerUnavailable(f"Dhan has no price for {exchange}:{symbol}")
        return rupees_to_paise(quote.last_price)

    def ticker(self) -> DhanTicker:
        """The live market feed on the account's session (ticker mode)."""
        credentials = self._session.credentials
        if not credentials.access_token:
            raise TokenExpired("no Dhan access token: log in to Dhan again")
        return DhanTicker(self._config.ws_url, credentials.client_id,
                          credentials.access_token, self._instruments,
                          ensure_master=self.ensure_instruments, clock=self._clock,
                          backoff=self._config.ticker_backoff)

    async def ensure_instruments(self) -> None:
        """Load today's scrip master unless it is loaded."""
        await self._instruments.ensure(self._download)

    async def refresh_instruments(self) -> None:
        """Download and swap in the scrip master now."""
        await self._instruments.refresh(self._download)

    async def _download(self) -> str:
        return await self._http.download(self._config.scrip_master_url)

    async def _master(self) -> None:
        try:
            await self.ensure_instruments()
        except BrokerError as exc:
            raise BrokerUnavailable(f"Dhan scrip master unavailable: {exc.message}") from exc

    async def _tradable(self, exchange: str, symbol: str) -> DhanInstrument:
        """The instrument to order; without a master nothing was sent (NotSent), an
        instrument Dhan does not list can never be ordered (OrderRejected)."""
        try:
            await self._master()
        except BrokerUnavailable as exc:
            raise NotSent(exc.message) from exc
        record = self._instruments.get(exchange, symbol)
        if record is None:
            raise OrderRejected(f"{exchange}:{symbol} is not in the Dhan scrip master")
        return record

    def _order(self, order: wire.Order) -> BrokerOrder:
        return to_broker_order(order, EXCHANGE_OF_SEGMENT.get(order.exchange_segment))

    def _position(self, position: wire.Position) -> BrokerPosition:
        record = None
        if position.security_id.isdigit():
            record = self._instruments.by_key(position.exchange_segment,
                                              int(position.security_id))
        if record is not None:
            return to_position(position, record.exchange, record.symbol)
        return to_position(position, EXCHANGE_OF_SEGMENT.get(position.exchange_segment, ""),
                           position.trading_symbol)
