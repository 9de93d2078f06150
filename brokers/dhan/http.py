"""Dhan API v2 REST: one method per endpoint we use, typed params, typed answers.

Paths, verbs and headers follow dhan-oss/DhanHQ-py (@1670f81) src/dhanhq/dhan_http.py
(`API_BASE_URL = https://api.dhan.co/v2`; headers `access-token`, `client-id`,
`Content-type: application/json`, `Accept: application/json`; JSON bodies), _order.py
(`/orders`, `/orders/{id}`, `/orders/external/{correlation_id}`), _portfolio.py
(`/positions`), _market_feed.py (`/marketfeed/ltp`) and auth.py (`/profile`,
`/RenewToken`). Answers are bare JSON (wire.py); failures are Dhan's error body (errors.py).

Rate limits (docs v2, "Rate Limit", 2026): order APIs 10/s (older docs: 25), 250/min,
1000/h, 7000/day; data APIs 5/s; quote APIs (marketfeed) 1/s; non-trading APIs 20/s.
Each request waits for a slot in every window of its group.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, TypeVar, cast

import httpx
import msgspec

from brokers.common.http import BrokerHttp, Call, Timeouts
from brokers.common.throttle import Throttle
from brokers.dhan import wire
from brokers.dhan.auth import api_headers
from brokers.dhan.errors import error_for
from brokers.errors import BrokerError, BrokerUnavailable, TokenExpired
from core.ratelimit import Rate

T = TypeVar("T")

RATES: Final = {"order": Rate(10, 1.0), "order/min": Rate(250, 60.0),
                "order/hour": Rate(1000, 3600.0), "order/day": Rate(7000, 86_400.0),
                "quote": Rate(1, 1.0), "other": Rate(20, 1.0)}
GROUPS: Final = {"order": ("order", "order/min", "order/hour", "order/day"),
                 "quote": ("quote",), "other": ("other",)}
USER_AGENT: Final = "algo-trading-backend/0.1 (+dhan-api-v2)"


class DhanHttp:
    """Dhan's REST API for one client id (and, once logged in, one access token)."""

    def __init__(self, base_url: str, client_id: str, *, access_token: str | None = None,
                 timeouts: Timeouts | None = None, throttle: Throttle | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client_id = client_id
        self._access_token = access_token
        self._throttle = throttle or Throttle(RATES)
        self._http = BrokerHttp(base_url, timeouts=timeouts, transport=transport,
                                headers={"Accept": "application/json",
                                         "User-Agent": USER_AGENT})

    @property
    def client_id(self) -> str:
        """The Dhan client id calls are made for."""
        return self._client_id

    def set_session(self, client_id: str, access_token: str | None) -> None:
        """Use another session (after the user logged in again) from now on."""
        self._client_id = client_id
        self._access_token = access_token

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.close()

    async def profile(self) -> wire.Profile:
        """`GET /profile`: the account, and until when the token is valid."""
        return self._decode(await self._send("GET", "/profile"), wire.Profile)

    async def renew_token(self) -> wire.Session:
        """`GET /RenewToken`: another 24 h for an active web-generated token (the SDK sends
        the client id as header `dhanClientId` here: auth.py `renew_token`)."""
        response = await self._send("GET", "/RenewToken",
                                    headers={"dhanClientId": self._client_id})
        return self._decode(response, wire.Session)

    async def place_order(self, body: wire.OrderBody) -> wire.PlacedOrder:
        """`POST /orders`."""
        response = await self._send("POST", "/orders", json=body, call=Call.ORDER,
                                    group="order")
        return self._decode(response, wire.PlacedOrder, call=Call.ORDER)

    async def order(self, order_id: str) -> wire.Order:
        """`GET /orders/{order-id}`."""
        return self._decode_order(await self._send("GET", f"/orders/{order_id}"))

    async def order_by_correlation(self, correlation_id: str) -> wire.Order:
        """`GET /orders/external/{correlation-id}` (raises when Dhan has none)."""
        return self._decode_order(await self._send("GET", f"/orders/external/{correlation_id}"))

    async def orders(self) -> list[wire.Order]:
        """`GET /orders`: today's order book, each order in its latest state."""
        return self._decode(await self._send("GET", "/orders"), list[wire.Order])

    async def positions(self) -> list[wire.Position]:
        """`GET /positions`."""
        return self._decode(await self._send("GET", "/positions"), list[wire.Position])

    async def ltp(self, instruments: dict[str, list[int]]) -> wire.LtpAnswer:
        """`POST /marketfeed/ltp` with `{"NSE_EQ": [2885], ...}` (up to 1000 instruments)."""
        response = await self._send("POST", "/marketfeed/ltp", json=instruments,
                                    group="quote")
        return self._decode(response, wire.LtpAnswer)

    async def download(self, url: str) -> str:
        """GET a public file (the scrip master) from its own host, without our headers."""
        response = await self._http.request("GET", url, call=Call.READ)
        if response.status_code != 200:
            raise BrokerUnavailable(f"Dhan download {url}: HTTP {response.status_code}")
        return response.text

    async def _send(self, method: str, path: str, *, call: Call = Call.READ,
                    group: str = "other", json: Any = None,
                    headers: dict[str, str] | None = None) -> httpx.Response:
        if not self._client_id or not self._access_token:
            raise TokenExpired("no Dhan access token: log in to Dhan again")
        sent = {**api_headers(self._client_id, self._access_token), **(headers or {})}
        content = None
        if json is not None:
            content = msgspec.json.encode(json)
            sent["Content-Type"] = "application/json"
        delay = max(self._throttle.reserve(g) for g in GROUPS[group])
        if delay > 0:
            await asyncio.sleep(delay)
        return await self._http.request(method, path, call=call, headers=sent,
                                        content=content)

    def _decode_order(self, response: httpx.Response) -> wire.Order:
        """One order; the docs show an object, a one-element array is accepted too."""
        found = cast(wire.Order | list[wire.Order],
                     self._decode(response, wire.Order | list[wire.Order]))  # type: ignore[arg-type]
        if isinstance(found, wire.Order):
            return found
        if not found:
            raise BrokerUnavailable("Dhan returned no order")
        return found[-1]

    def _decode(self, response: httpx.Response, kind: type[T], call: Call = Call.READ) -> T:
        if response.status_code >= 300:
            raise self._failure(response, call)
        try:
            return msgspec.json.decode(response.content, type=kind)
        except msgspec.DecodeError as exc:
            raise self._failure(response, call, f"unexpected answer: {exc}") from exc

    @staticmethod
    def _failure(response: httpx.Response, call: Call, detail: str | None = None,
                 ) -> BrokerError:
        code, error_type, message = _error_fields(response.content)
        message = detail or message or f"unexpected answer: {response.text[:200]!r}"
        return error_for(response.status_code, code, error_type, message,
                         order=call is Call.ORDER,
                         retry_after=response.headers.get("retry-after"))


def _error_fields(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(code, type, message) of a Trading API error body or a Data API one
    (`{"data": {"807": "..."}, "status": "failed"}`)."""
    try:
        parsed = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None, None, None
    if not isinstance(parsed, dict):
        return None, None, None
    if "errorCode" in parsed or "errorMessage" in parsed:
        try:
            failure = msgspec.convert(parsed, wire.Failure)
        except msgspec.ValidationError:
            return None, None, str(parsed)[:200]
        return failure.error_code, failure.error_type, failure.error_message
    data = parsed.get("data")
    if isinstance(data, dict) and len(data) == 1:
        code, message = next(iter(data.items()))
        return str(code), None, str(message)
    return None, None, None
