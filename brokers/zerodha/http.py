"""Kite Connect v3 REST: one method per endpoint we use, typed params, typed answers.

Paths, verbs and encodings follow zerodha/pykiteconnect kiteconnect/connect.py (`_routes`,
`_request`): bodies are form-encoded, GET parameters are in the query (`i` repeated for
quotes), `X-Kite-Version: 3` on every call. A JSON answer is Kite's envelope; the
instrument dump is CSV. Rate limits (Kite docs, "Rate limits", as restated by Zerodha on
kite.trade forum discussion 16217, 2025): quote 1 req/s, historical 3 req/s, order
placement 10 req/s (and 400/min, 5000/day per account), everything else 10 req/s; over
the limit Kite answers HTTP 429.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx
import msgspec

from brokers.common.http import BrokerHttp, Call, QueryParams, Timeouts
from brokers.common.throttle import Throttle
from brokers.errors import BrokerError, TokenExpired
from brokers.zerodha import wire
from brokers.zerodha.auth import KITE_VERSION, authorization, checksum
from brokers.zerodha.errors import error_for
from core.ratelimit import Rate

T = TypeVar("T")

RATES: Final = {"order": Rate(10, 1.0), "quote": Rate(1, 1.0), "other": Rate(10, 1.0)}
"""Kite's published per-second limits by endpoint group."""
USER_AGENT: Final = "algo-trading-backend/0.1 (+kite-connect-v3)"


@dataclass(frozen=True, slots=True)
class OrderParams:
    """The form of `POST /orders/regular` for an intraday market order."""

    exchange: str
    tradingsymbol: str
    transaction_type: str
    quantity: int
    tag: str
    product: str = "MIS"
    order_type: str = "MARKET"
    validity: str = "DAY"
    market_protection: int = -1
    """-1: Kite's automatic protection. Since April 2026 Kite refuses API MARKET orders
    without a market protection (Zerodha on kite.trade forum, comments 52970 and 52991)."""

    def form(self, variety: str) -> dict[str, str]:
        """The form fields, `variety` repeated in the body as the SDK sends it."""
        return {"variety": variety, "exchange": self.exchange,
                "tradingsymbol": self.tradingsymbol,
                "transaction_type": self.transaction_type, "quantity": str(self.quantity),
                "product": self.product, "order_type": self.order_type,
                "validity": self.validity, "market_protection": str(self.market_protection),
                "tag": self.tag}


class KiteHttp:
    """Kite's REST API for one api_key (and, once logged in, one access token)."""

    def __init__(self, base_url: str, api_key: str, *, access_token: str | None = None,
                 timeouts: Timeouts | None = None, throttle: Throttle | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._api_key = api_key
        self._access_token = access_token
        self._throttle = throttle or Throttle(RATES)
        self._http = BrokerHttp(base_url, timeouts=timeouts, transport=transport,
                                headers={"X-Kite-Version": KITE_VERSION,
                                         "User-Agent": USER_AGENT})

    @property
    def access_token(self) -> str | None:
        """The token calls are made with."""
        return self._access_token

    def set_session(self, api_key: str, access_token: str | None) -> None:
        """Use another session (after the user logged in again) from now on."""
        self._api_key = api_key
        self._access_token = access_token

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.close()

    async def generate_session(self, request_token: str, api_secret: str) -> wire.Session:
        """`POST /session/token`: exchange a request token for an access token."""
        form = {"api_key": self._api_key, "request_token": request_token,
                "checksum": checksum(self._api_key, request_token, api_secret)}
        response = await self._send("POST", "/session/token", data=form, auth=False)
        return self._decode(response, wire.Session)

    async def profile(self) -> wire.Profile:
        """`GET /user/profile`."""
        return self._decode(await self._send("GET", "/user/profile"), wire.Profile)

    async def place_order(self, params: OrderParams, variety: str = "regular") -> str:
        """`POST /orders/{variety}`; the new order's id."""
        response = await self._send("POST", f"/orders/{variety}", data=params.form(variety),
                                    call=Call.ORDER, group="order")
        return self._decode(response, wire.PlacedOrder, call=Call.ORDER).order_id

    async def order_history(self, order_id: str) -> list[wire.Order]:
        """`GET /orders/{order_id}`: the order's states, oldest first."""
        return self._decode(await self._send("GET", f"/orders/{order_id}"), list[wire.Order])

    async def orders(self) -> list[wire.Order]:
        """`GET /orders`: today's order book, each order in its latest state."""
        return self._decode(await self._send("GET", "/orders"), list[wire.Order])

    async def positions(self) -> wire.Positions:
        """`GET /portfolio/positions`: net and day positions."""
        return self._decode(await self._send("GET", "/portfolio/positions"), wire.Positions)

    async def ltp(self, instruments: list[str]) -> dict[str, wire.Ltp]:
        """`GET /quote/ltp?i=NSE:INFY&i=...`; instruments without a price are left out."""
        response = await self._send("GET", "/quote/ltp", params={"i": instruments},
                                    group="quote")
        return self._decode(response, dict[str, wire.Ltp])

    async def instruments(self, exchange: str | None = None) -> str:
        """`GET /instruments[/{exchange}]`: the instrument master as CSV text."""
        path = "/instruments" if exchange is None else f"/instruments/{exchange}"
        response = await self._send("GET", path)
        if "csv" not in response.headers.get("content-type", ""):
            raise self._failure(response, Call.READ)
        return response.text

    async def _send(self, method: str, path: str, *, call: Call = Call.READ,
                    group: str = "other", params: QueryParams | None = None,
                    data: Mapping[str, Any] | None = None, auth: bool = True,
                    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if auth:
            if not self._api_key or not self._access_token:
                raise TokenExpired("no Kite access token: log in to Zerodha again")
            headers["Authorization"] = authorization(self._api_key, self._access_token)
        await self._throttle.wait(group)
        return await self._http.request(method, path, call=call, params=params, data=data,
                                        headers=headers)

    def _decode(self, response: httpx.Response, kind: type[T], call: Call = Call.READ) -> T:
        envelope = self._envelope(response)
        if (envelope is None or response.status_code >= 400 or envelope.status != "success"
                or envelope.error_type):
            raise self._failure(response, call, envelope)
        try:
            return msgspec.json.decode(envelope.data, type=kind)
        except msgspec.ValidationError as exc:
            raise self._failure(response, call, envelope, f"unexpected data: {exc}") from exc

    @staticmethod
    def _envelope(response: httpx.Response) -> wire.Envelope | None:
        if "json" not in response.headers.get("content-type", ""):
            return None
        try:
            return msgspec.json.decode(response.content, type=wire.Envelope)
        except msgspec.DecodeError:
            return None

    def _failure(self, response: httpx.Response, call: Call,
                 envelope: wire.Envelope | None = None, detail: str | None = None,
                 ) -> BrokerError:
        if envelope is None:
            envelope = self._envelope(response)
        error_type = envelope.error_type if envelope else None
        message = detail or (envelope.message if envelope and envelope.message else
                             f"unexpected answer: {response.text[:200]!r}")
        return error_for(response.status_code, error_type, message, order=call is Call.ORDER,
                         retry_after=response.headers.get("retry-after"))
