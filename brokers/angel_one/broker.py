"""`AngelOneBroker`: one Angel One SmartAPI account behind BaseBroker (BRK-5)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import httpx

from brokers.angel_one.auth import AngelSession, ClientIdentity, session_expiry, totp
from brokers.angel_one.http import AngelHttp, OrderParams, download
from brokers.angel_one.instruments import AngelInstrument, AngelInstruments, our_symbol
from brokers.angel_one.orders import rupees_to_paise, tag_for, to_broker_order, to_position
from brokers.angel_one.ticker import LTP_MODE, AngelTicker
from brokers.angel_one.wire import Order, decimal
from brokers.base import (
    AccountInfo,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    OrderRequest,
)
from brokers.common.http import Timeouts
from brokers.common.rest import RestBroker, timeouts_from
from brokers.common.ws import Backoff
from brokers.errors import BrokerUnavailable, NotSent, OrderRejected, TokenExpired
from core.clock import Clock
from core.db.enums import BrokerType
from core.settings import Settings

T = TypeVar("T")
log = logging.getLogger("algo.brokers.angel_one")

PRODUCTS = {"MIS": "INTRADAY", "CNC": "DELIVERY", "NRML": "CARRYFORWARD"}
"""Our product names (Kite's) → Angel's producttype."""


@dataclass(frozen=True, slots=True)
class AngelCredentials:
    """What an account needs to call Angel (decrypted from its broker credential). With
    the PIN and the TOTP secret the adapter logs in by itself whenever the session is
    missing, expired or refused."""

    api_key: str
    client_code: str
    pin: str | None = None
    totp_secret: str | None = None
    session: AngelSession | None = None

    @property
    def can_login(self) -> bool:
        """True when a login needs nobody."""
        return bool(self.api_key and self.client_code and self.pin and self.totp_secret)


@dataclass(frozen=True, slots=True)
class AngelConfig:
    """Where Angel is and how long to wait for it."""

    api_url: str = "https://apiconnect.angelone.in"
    ws_url: str = "wss://smartapisocket.angelone.in/smart-stream"
    instruments_url: str = ("https://margincalculator.angelone.in/OpenAPI_File/files/"
                            "OpenAPIScripMaster.json")
    identity: ClientIdentity = field(default_factory=ClientIdentity)
    timeouts: Timeouts = field(default_factory=Timeouts)
    ticker_backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_settings(cls, settings: Settings) -> AngelConfig:
        """The configuration from `ALGO_ANGEL_*` and `ALGO_BROKER_*`."""
        return cls(api_url=settings.angel_api_url, ws_url=settings.angel_ws_url,
                   instruments_url=settings.angel_instruments_url,
                   identity=ClientIdentity(public_ip=settings.angel_client_public_ip),
                   timeouts=timeouts_from(settings))


class AngelOneBroker(RestBroker[AngelHttp]):
    """An Angel One account. A session known to be dead is never sent: the credential is
    re-read (another process may have logged in), and failing that the adapter logs in
    with the PIN and TOTP; `on_login` stores the new session."""

    broker_type = BrokerType.ANGEL_ONE.value

    def __init__(self, account: str, credentials: AngelCredentials, config: AngelConfig,
                 instruments: AngelInstruments, clock: Clock, *,
                 reload: Callable[[], Awaitable[AngelCredentials]] | None = None,
                 on_login: Callable[[AngelSession], Awaitable[None]] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._account = account
        self._credentials = credentials
        self._config = config
        self._instruments = instruments
        self._clock = clock
        self._reload = reload
        self._on_login = on_login
        self._transport = transport
        self._stale = credentials.session is None
        """Re-read the credential before the next call (none yet, or Angel refused it)."""
        self._refused: str | None = None
        """The jwtToken Angel last refused: never used again."""
        self._unique_ids: dict[str, str] = {}
        """orderid → uniqueorderid, for the cheap `details` lookup."""
        session = credentials.session
        self._http = AngelHttp(config.api_url, credentials.api_key, identity=config.identity,
                               jwt_token=session.jwt_token if session else None,
                               timeouts=config.timeouts, transport=transport)

    @property
    def session(self) -> AngelSession | None:
        """The session calls are made with."""
        return self._credentials.session

    @staticmethod
    def tag_for(order_id: str) -> str:
        """Angel's `ordertag` for our order id (≤ 15 alphanumeric characters)."""
        return tag_for(order_id)

    async def login(self) -> AngelSession:
        """`loginByPassword` with the PIN and the current TOTP; the session is kept (and
        handed to `on_login`). TokenExpired if Angel refuses the credentials."""
        creds = self._credentials
        if not creds.can_login or creds.pin is None or creds.totp_secret is None:
            raise TokenExpired("no Angel One PIN and TOTP secret stored: connect Angel One")
        now = self._clock.now()
        tokens = await self._http.login(creds.client_code, creds.pin,
                                        totp(creds.totp_secret))
        session = AngelSession(jwt_token=tokens.jwt_token, refresh_token=tokens.refresh_token,
                               feed_token=tokens.feed_token,
                               expires_at=session_expiry(now, tokens.jwt_token))
        self._use(replace(creds, session=session))
        if self._on_login is not None:
            try:
                await self._on_login(session)
            except Exception as exc:  # noqa: BLE001 (the session works even if unsaved)
                log.warning("storing the Angel One session of %s failed: %s", self._account,
                            exc)
        return session

    async def validate(self) -> AccountInfo:
        """`getProfile` (after a login when needed)."""
        profile = await self._authed(self._http.profile)
        return AccountInfo(account_id=profile.clientcode, name=profile.name)

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """A NORMAL MARKET order with our ordertag; OPEN until `get_order` says otherwise."""
        try:
            await self._ready()
            instrument = await self._instrument(request.exchange, request.symbol)
        except TokenExpired:
            raise
        except BrokerUnavailable as exc:  # no order left this process
            raise NotSent(f"Angel One order not sent: {exc.message}") from exc
        params = OrderParams(
            exchange=instrument.exchange, tradingsymbol=instrument.tradingsymbol,
            symboltoken=instrument.token, transactiontype=request.side.value,
            quantity=request.quantity, ordertag=request.client_tag,
            producttype=PRODUCTS.get(request.product, request.product),
            ordertype=request.order_type)
        placed = await self._authed(lambda: self._http.place_order(params), ready=True)
        if placed.uniqueorderid:
            self._unique_ids[placed.orderid] = placed.uniqueorderid
        return BrokerOrder(broker_order_id=placed.orderid, client_tag=request.client_tag,
                           status=BrokerOrderStatus.OPEN,
                           raw={"orderid": placed.orderid,
                                "uniqueorderid": placed.uniqueorderid})

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """The order's latest state: `details/{uniqueorderid}` when its unique id is known,
        else from the order book."""
        unique = self._unique_ids.get(broker_order_id)
        if unique is not None:
            order = await self._authed(lambda: self._http.order_details(unique))
            return to_broker_order(order)
        for order in await self._book():
            if order.orderid == broker_order_id:
                return to_broker_order(order)
        raise BrokerUnavailable(f"Angel One has no order {broker_order_id} in today's book")

    async def get_orders(self) -> list[BrokerOrder]:
        """Today's order book."""
        return [to_broker_order(o) for o in await self._book()]

    async def get_positions(self) -> list[BrokerPosition]:
        """Today's net positions."""
        positions = await self._authed(self._http.positions)
        out = []
        for position in positions:
            known = self._instruments.by_token(position.exchange, position.symboltoken)
            symbol = known.symbol if known else our_symbol(position.exchange,
                                                           position.tradingsymbol)
            out.append(to_position(position, symbol))
        return out

    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """`getLtpData` in paise."""
        instrument = await self._instrument(exchange, symbol)
        quote = await self._authed(lambda: self._http.ltp(
            instrument.exchange, instrument.tradingsymbol, instrument.token))
        price = decimal(quote.ltp)
        if price <= 0:
            raise BrokerUnavailable(f"Angel One has no price for {exchange}:{symbol}")
        return rupees_to_paise(price)

    def ticker(self, *, mode: int = LTP_MODE) -> AngelTicker:
        """A market-data stream on the account's session (LTP mode: all a Tick needs)."""
        session = self._credentials.session
        if session is None:
            raise TokenExpired("no Angel One session: log in to Angel One again")
        return AngelTicker(self._config.ws_url, api_key=self._credentials.api_key,
                           client_code=self._credentials.client_code,
                           jwt_token=session.jwt_token, feed_token=session.feed_token,
                           instruments=self._instruments, ensure_master=self.ensure_instruments,
                           clock=self._clock, mode=mode, backoff=self._config.ticker_backoff)

    async def ensure_instruments(self, *, force: bool = False) -> None:
        """Load today's scrip master unless it is loaded (`force`: download anyway)."""
        await self._instruments.ensure(
            lambda: download(self._config.instruments_url, timeouts=self._config.timeouts,
                             transport=self._transport), force=force)

    async def _instrument(self, exchange: str, symbol: str) -> AngelInstrument:
        await self.ensure_instruments()
        instrument = self._instruments.get(exchange, symbol)
        if instrument is None:
            raise OrderRejected(f"{exchange}:{symbol} is not in the Angel One scrip master")
        return instrument

    async def _book(self) -> list[Order]:
        orders = await self._authed(self._http.order_book)
        for order in orders:
            if order.uniqueorderid:
                self._unique_ids[order.orderid] = order.uniqueorderid
        return orders

    async def _authed(self, call: Callable[[], Awaitable[T]], *, ready: bool = False) -> T:
        if not ready:
            await self._ready()
        try:
            return await call()
        except TokenExpired:
            session = self._credentials.session
            self._refused = session.jwt_token if session else None
            self._stale = True
            raise

    async def _ready(self) -> None:
        """Make sure a live session is in use: re-read the credential, else log in."""
        if self._stale or self._dead():
            if self._reload is not None:
                self._use(await self._reload())
            self._stale = False
        if self._dead():
            if not self._credentials.can_login:
                raise TokenExpired("the Angel One session has expired: log in to Angel One "
                                   "again")
            await self.login()

    def _dead(self) -> bool:
        session = self._credentials.session
        return (session is None or self._clock.now() >= session.expires_at
                or session.jwt_token == self._refused)

    def _use(self, credentials: AngelCredentials) -> None:
        self._credentials = credentials
        session = credentials.session
        self._http.set_session(credentials.api_key, session.jwt_token if session else None)
