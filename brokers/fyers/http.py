"""Fyers API v3 REST: one method per endpoint we use, typed params, typed answers.

Paths, verbs and headers follow fyers-apiv3 3.2.0 fyers_apiv3/fyersModel.py (`Config`:
API = {root}/api/v3, DATA_API = {root}/data; `FyersServiceSync.get_call` / `post_call`):
bodies are JSON, GET parameters in the query, `Authorization: {app_id}:{access_token}`,
`Content-Type: application/json` and `version: 3` on every call. The symbol master is a
public CSV on another host (public.fyers.in/sym_details), fetched without credentials.

Rate limits (Fyers API v3 docs, "Rate Limit"): 10 requests/s, 200/min and 100,000/day per
user across the API; exceeding the per-minute limit more than 3 times in a day blocks the
user for the rest of the day (answers HTTP 429 / code -429 before that). We pace every
request by both the second and the minute budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

import httpx
import msgspec

from brokers.common.http import BrokerHttp, Call, QueryParams, Timeouts
from brokers.common.throttle import Throttle
from brokers.errors import BrokerError, TokenExpired
from brokers.fyers import wire
from brokers.fyers.auth import (
    FYERS_VERSION,
    FyersSession,
    app_id_hash,
    authorization,
    token_expiry,
)
from brokers.fyers.errors import NO_ACK_CODE, error_for
from core.ratelimit import Rate

T = TypeVar("T")

RATES: Final = {"second": Rate(10, 1.0), "minute": Rate(200, 60.0)}
"""Fyers' published per-user limits; every request takes a slot of each."""
USER_AGENT: Final = "algo-trading-backend/0.1 (+fyers-api-v3)"
API: Final = "/api/v3"
DATA: Final = "/data"


class FyersHttp:
    """Fyers' REST API for one app id (and, once logged in, one access token)."""

    def __init__(self, base_url: str, app_id: str, *, access_token: str | None = None,
                 symbols_url: str = "https://public.fyers.in/sym_details",
                 timeouts: Timeouts | None = None, throttle: Throttle | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._app_id = app_id
        self._access_token = access_token
        self._throttle = throttle or Throttle(RATES)
        headers = {"version": FYERS_VERSION, "User-Agent": USER_AGENT}
        self._http = BrokerHttp(base_url, timeouts=timeouts, transport=transport,
                                headers=headers)
        self._public = BrokerHttp(symbols_url.rstrip("/") + "/", timeouts=timeouts,
                                  transport=transport, max_connections=2,
                                  headers={"User-Agent": USER_AGENT})

    @property
    def access_token(self) -> str | None:
        """The token calls are made with."""
        return self._access_token

    def set_session(self, app_id: str, access_token: str | None) -> None:
        """Use another session (after the user logged in again) from now on."""
        self._app_id = app_id
        self._access_token = access_token

    async def close(self) -> None:
        """Close the connection pools."""
        await self._http.close()
        await self._public.close()

    async def validate_authcode(self, auth_code: str, secret: str) -> wire.TokenAnswer:
        """`POST /api/v3/validate-authcode`: exchange an auth code for tokens."""
        body = {"grant_type": "authorization_code",
                "appIdHash": app_id_hash(self._app_id, secret), "code": auth_code}
        response = await self._send("POST", f"{API}/validate-authcode", json=body, auth=False)
        return self._decode(response, wire.TokenAnswer)

    async def login(self, auth_code: str, secret: str, *, now: datetime) -> FyersSession:
        """The whole auth-code exchange: a session whose expiry is the token's `exp`."""
        answer = await self.validate_authcode(auth_code, secret)
        return FyersSession(app_id=self._app_id, access_token=answer.access_token,
                            refresh_token=answer.refresh_token, issued_at=now,
                            expires_at=token_expiry(answer.access_token, now))

    async def validate_refresh_token(self, refresh_token: str, secret: str,
                                     pin: str) -> wire.TokenAnswer:
        """`POST /api/v3/validate-refresh-token`: a new access token (refresh: 15 days)."""
        body = {"grant_type": "refresh_token", "appIdHash": app_id_hash(self._app_id, secret),
                "refresh_token": refresh_token, "pin": pin}
        response = await self._send("POST", f"{API}/validate-refresh-token", json=body,
                                    auth=False)
        return self._decode(response, wire.TokenAnswer)

    async def profile(self) -> wire.ProfileData:
        """`GET /api/v3/profile`."""
        return self._decode(await self._send("GET", f"{API}/profile"), wire.Profile).data

    async def place_order(self, body: Mapping[str, Any]) -> str:
        """`POST /api/v3/orders/sync`; the new order's id."""
        response = await self._send("POST", f"{API}/orders/sync", json=body, call=Call.ORDER)
        placed = self._decode(response, wire.PlacedOrder, call=Call.ORDER)
        if placed.code == NO_ACK_CODE or not placed.id:
            # Sent to the exchange, not acknowledged: the order book decides (docs).
            raise error_for(response.status_code, placed.code,
                            placed.message or "no order id in the answer", order=True)
        return placed.id

    async def orders(self, *, order_id: str | None = None,
                     tag: str | None = None) -> list[wire.Order]:
        """`GET /api/v3/orders[?id=..|?order_tag=1:..]`: today's order book, or a filter."""
        params = {"id": order_id} if order_id else {"order_tag": tag} if tag else None
        response = await self._send("GET", f"{API}/orders", params=params)
        return self._decode(response, wire.OrderBook).order_book

    async def positions(self) -> list[wire.Position]:
        """`GET /api/v3/positions`: today's net positions."""
        response = await self._send("GET", f"{API}/positions")
        return self._decode(response, wire.Positions).net_positions

    async def quotes(self, tickers: list[str]) -> list[wire.Quote]:
        """`GET /data/quotes?symbols=NSE:SBIN-EQ,..` (at most 50)."""
        response = await self._send("GET", f"{DATA}/quotes",
                                    params={"symbols": ",".join(tickers)})
        return self._decode(response, wire.Quotes).d

    async def symbol_master(self, name: str = "NSE_CM.csv") -> str:
        """A symbol master CSV (`NSE_CM.csv`, `BSE_CM.csv`, ...) as text (a public file,
        outside the API's rate limits)."""
        response = await self._public.request("GET", name, call=Call.READ)
        if response.status_code != 200:
            raise error_for(response.status_code, None,
                            f"symbol master {name}: HTTP {response.status_code}", order=False)
        return response.text

    async def _pace(self) -> None:
        delay = max(self._throttle.reserve("second"), self._throttle.reserve("minute"))
        if delay > 0:
            await asyncio.sleep(delay)

    async def _send(self, method: str, path: str, *, call: Call = Call.READ,
                    params: QueryParams | None = None, json: Any = None, auth: bool = True,
                    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if auth:
            if not self._app_id or not self._access_token:
                raise TokenExpired("no Fyers access token: log in to Fyers again")
            headers["Authorization"] = authorization(self._app_id, self._access_token)
        await self._pace()
        content = None if json is None else msgspec.json.encode(json)
        return await self._http.request(method, path, call=call, params=params,
                                        headers=headers, content=content)

    def _decode(self, response: httpx.Response, kind: type[T], call: Call = Call.READ) -> T:
        envelope = _envelope(response)
        if envelope is None or response.status_code >= 400 or envelope.s != "ok":
            raise self._failure(response, call, envelope)
        try:
            return msgspec.json.decode(response.content, type=kind)
        except msgspec.ValidationError as exc:
            # An "ok" we cannot read says nothing either way (for an order: Ambiguous).
            raise self._failure(response, call, None, f"unexpected answer: {exc}") from exc

    @staticmethod
    def _failure(response: httpx.Response, call: Call, envelope: wire.Envelope | None,
                 detail: str | None = None) -> BrokerError:
        code = envelope.code if envelope is not None else None
        message = detail or (envelope.message if envelope is not None and envelope.message
                             else f"unexpected answer: {response.text[:200]!r}")
        return error_for(response.status_code, code, message, order=call is Call.ORDER,
                         retry_after=response.headers.get("retry-after"))


def _envelope(response: httpx.Response) -> wire.Envelope | None:
    try:
        return msgspec.json.decode(response.content, type=wire.Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
