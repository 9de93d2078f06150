"""SmartAPI REST: one method per endpoint we use, typed params, typed answers.

Paths, verbs and bodies follow angel-one/smartapi-python @ff60852 SmartApi/smartConnect.py
(`_routes`, `_request`): every body is JSON, every answer Angel's envelope (wire.py).
Rate limits (Angel's forum post "Changes in API Rate Limit", smartapi.angelbroking.com
topic 4387, as listed in the brokers PROTOCOLS notes §4.5), per account: loginByPassword
and generateTokens 1/s, getProfile 3/s, placeOrder 20/s and 500/min, getLtpData and
order details 10/s, getOrderBook and getPosition 1/s each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import msgspec

from brokers.angel_one import wire
from brokers.angel_one.auth import ClientIdentity, headers
from brokers.angel_one.errors import error_for
from brokers.common.http import BrokerHttp, Call, Timeouts
from brokers.common.throttle import Throttle
from brokers.errors import BrokerError, BrokerUnavailable, TokenExpired
from core.ratelimit import Rate

T = TypeVar("T")

BASE: Final = "/rest/secure/angelbroking"
LOGIN: Final = "/rest/auth/angelbroking/user/v1/loginByPassword"
TOKENS: Final = "/rest/auth/angelbroking/jwt/v1/generateTokens"
RATES: Final = {"login": Rate(1, 1.0), "tokens": Rate(1, 1.0), "profile": Rate(3, 1.0),
                "order": Rate(20, 1.0), "order_minute": Rate(500, 60.0),
                "quote": Rate(10, 1.0), "details": Rate(10, 1.0),
                "orderbook": Rate(1, 1.0), "positions": Rate(1, 1.0)}
"""Angel's published limits by endpoint (a group absent here is not paced)."""


@dataclass(frozen=True, slots=True)
class OrderParams:
    """The body of `placeOrder` for an intraday market order (all values strings, as in
    the SmartAPI docs and the SDK README)."""

    exchange: str
    tradingsymbol: str
    symboltoken: str
    transactiontype: str
    quantity: int
    ordertag: str
    producttype: str = "INTRADAY"
    ordertype: str = "MARKET"
    variety: str = "NORMAL"
    duration: str = "DAY"

    def body(self) -> dict[str, str]:
        """The JSON fields."""
        return {"variety": self.variety, "tradingsymbol": self.tradingsymbol,
                "symboltoken": self.symboltoken, "transactiontype": self.transactiontype,
                "exchange": self.exchange, "ordertype": self.ordertype,
                "producttype": self.producttype, "duration": self.duration, "price": "0",
                "squareoff": "0", "stoploss": "0", "quantity": str(self.quantity),
                "ordertag": self.ordertag}


class AngelHttp:
    """SmartAPI's REST API for one api_key (and, once logged in, one jwtToken)."""

    def __init__(self, base_url: str, api_key: str, *, identity: ClientIdentity | None = None,
                 jwt_token: str | None = None, timeouts: Timeouts | None = None,
                 throttle: Throttle | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._api_key = api_key
        self._identity = identity or ClientIdentity()
        self._jwt = jwt_token
        self._throttle = throttle or Throttle(RATES)
        self._http = BrokerHttp(base_url, timeouts=timeouts, transport=transport)

    def set_session(self, api_key: str, jwt_token: str | None) -> None:
        """Use another session from now on."""
        self._api_key = api_key
        self._jwt = jwt_token

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.close()

    async def login(self, client_code: str, pin: str, totp: str) -> wire.Tokens:
        """`loginByPassword`: a new session from the client code, PIN and TOTP."""
        body = {"clientcode": client_code, "password": pin, "totp": totp}
        response = await self._send("POST", LOGIN, body, group="login", auth=False)
        try:
            return self._decode(response, wire.Tokens)
        except BrokerUnavailable as exc:
            answer = exc.response or {}
            if answer.get("errorcode") and answer.get("http_status", 500) < 500:
                # Angel looked at the credentials and said no (AB1007 wrong PIN, ...).
                raise TokenExpired(exc.message, response=exc.response) from exc
            raise

    async def generate_tokens(self, refresh_token: str) -> wire.Tokens:
        """`generateTokens`: fresh jwt and feed tokens from the refresh token."""
        response = await self._send("POST", TOKENS, {"refreshToken": refresh_token},
                                    group="tokens")
        return self._decode(response, wire.Tokens)

    async def profile(self) -> wire.Profile:
        """`getProfile`."""
        response = await self._send("GET", f"{BASE}/user/v1/getProfile", group="profile")
        return self._decode(response, wire.Profile)

    async def logout(self, client_code: str) -> None:
        """`logout`: end the session at Angel."""
        response = await self._send("POST", f"{BASE}/user/v1/logout",
                                    {"clientcode": client_code})
        self._decode(response, msgspec.Raw)

    async def place_order(self, params: OrderParams) -> wire.PlacedOrder:
        """`placeOrder`; Angel's order id and unique order id."""
        await self._throttle.wait("order_minute")
        response = await self._send("POST", f"{BASE}/order/v1/placeOrder", params.body(),
                                    call=Call.ORDER, group="order")
        return self._decode(response, wire.PlacedOrder, call=Call.ORDER)

    async def order_book(self) -> list[wire.Order]:
        """`getOrderBook`: today's orders (Angel sends `data: null` for none)."""
        response = await self._send("GET", f"{BASE}/order/v1/getOrderBook", group="orderbook")
        return self._decode_list(response, list[wire.Order])

    async def order_details(self, unique_order_id: str) -> wire.Order:
        """`details/{uniqueorderid}`: one order's latest state."""
        response = await self._send("GET", f"{BASE}/order/v1/details/{quote(unique_order_id)}",
                                    group="details")
        return self._decode(response, wire.Order)

    async def positions(self) -> list[wire.Position]:
        """`getPosition`: today's positions (`data: null` when there are none)."""
        response = await self._send("GET", f"{BASE}/order/v1/getPosition", group="positions")
        return self._decode_list(response, list[wire.Position])

    async def ltp(self, exchange: str, tradingsymbol: str, symboltoken: str) -> wire.Ltp:
        """`getLtpData` of one instrument."""
        body = {"exchange": exchange, "tradingsymbol": tradingsymbol,
                "symboltoken": symboltoken}
        response = await self._send("POST", f"{BASE}/order/v1/getLtpData", body,
                                    group="quote")
        return self._decode(response, wire.Ltp)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                    call: Call = Call.READ, group: str = "other", auth: bool = True,
                    ) -> httpx.Response:
        if auth and not self._jwt:
            raise TokenExpired("no Angel One session: log in to Angel One again")
        await self._throttle.wait(group)
        content = msgspec.json.encode(body) if body is not None else None
        return await self._http.request(
            method, path, call=call, content=content,
            headers=headers(self._api_key, self._identity, self._jwt if auth else None))

    def _decode(self, response: httpx.Response, kind: type[T], call: Call = Call.READ) -> T:
        envelope = self._checked(response, call)
        try:
            return msgspec.json.decode(envelope.data, type=kind)
        except msgspec.ValidationError as exc:
            raise self._failure(response, call, envelope, f"unexpected data: {exc}") from exc

    def _decode_list(self, response: httpx.Response, kind: type[list[T]]) -> list[T]:
        envelope = self._checked(response, Call.READ)
        if bytes(envelope.data).strip() in (b"null", b'""'):
            return []
        return self._decode(response, kind)

    def _checked(self, response: httpx.Response, call: Call) -> wire.Envelope:
        envelope = self._envelope(response)
        if envelope is None or response.status_code >= 400 or not envelope.ok:
            raise self._failure(response, call, envelope)
        return envelope

    @staticmethod
    def _envelope(response: httpx.Response) -> wire.Envelope | None:
        try:
            return msgspec.json.decode(response.content, type=wire.Envelope)
        except msgspec.DecodeError:  # ValidationError is a DecodeError: not an envelope
            return None

    @staticmethod
    def _failure(response: httpx.Response, call: Call, envelope: wire.Envelope | None,
                 detail: str | None = None) -> BrokerError:
        message = detail or (envelope.message if envelope and envelope.message else
                             f"unexpected answer: {response.text[:200]!r}")
        return error_for(response.status_code, envelope.code if envelope else "", message,
                         order=call is Call.ORDER, json_body=envelope is not None,
                         retry_after=response.headers.get("retry-after"))


async def download(url: str, *, timeouts: Timeouts | None = None,
                   transport: httpx.AsyncBaseTransport | None = None) -> bytes:
    """GET a public file (the scrip master: no login, another host than the API)."""
    parts = urlsplit(url)
    http = BrokerHttp(f"{parts.scheme}://{parts.netloc}", timeouts=timeouts,
                      transport=transport)
    try:
        response = await http.request("GET", parts.path or "/", call=Call.READ)
    finally:
        await http.close()
    if response.status_code != 200:
        raise BrokerUnavailable(f"scrip master download: HTTP {response.status_code}")
    return response.content
