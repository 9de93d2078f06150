"""The fake SmartAPI REST (Quart): Angel's paths, JSON bodies, envelopes and errors.

Success: `{"status": true, "message": "SUCCESS", "errorcode": "", "data": ...}`; a
failure: `{"status": false, "message", "errorcode", "data": null}`, HTTP 200 unless said
otherwise; an unknown jwtToken: HTTP 200 `{"success": false, "message": "Invalid Token",
"errorCode": "AG8001", "data": ""}` (the spelling third parties recorded). Everything is
`application/json`. GETs ignore their query string (the SDK sends its params JSON-dumped
there). Every call but loginByPassword needs `X-PrivateKey` and `Authorization`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, Response, request

from tests.fakes.angel.book import AngelBook, AngelError, Fault, InvalidToken, Recorded

SECURE = "/rest/secure/angelbroking"
MASTER_PATH = "/OpenAPI_File/files/OpenAPIScripMaster.json"


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def ok(data: Any) -> Response:
    """Angel's success envelope."""
    return _json({"status": True, "message": "SUCCESS", "errorcode": "", "data": data})


def failure(code: str, message: str, status: int = 200) -> Response:
    """Angel's error envelope."""
    return _json({"status": False, "message": message, "errorcode": code, "data": None},
                 status)


def invalid_token() -> Response:
    """A dead or unknown jwtToken."""
    return _json({"success": False, "message": "Invalid Token", "errorCode": "AG8001",
                  "data": ""})


def fault_answer(fault: Fault) -> Response | None:
    """The answer of a switch that books nothing (None: the switch books first)."""
    if fault.kind == "token_expired":
        return invalid_token()
    if fault.kind == "rate_limit":
        return _json({"status": False, "errorcode": "",
                      "message": "Access denied because of exceeding access rate",
                      "data": None}, 429)
    if fault.kind == "error_5xx":
        return Response("<html><body>502 Bad Gateway</body></html>", status=502,
                        content_type="text/html")
    if fault.kind == "reject":
        return failure(fault.code, fault.message)
    return None


def create_rest_app(book: AngelBook, stop: asyncio.Event) -> Quart:
    """The REST half of the fake."""
    app = Quart("fake-angel")

    async def record() -> dict[str, Any]:
        raw = await request.get_data(as_text=True)
        try:
            body = json.loads(raw) if raw and request.method == "POST" else {}
        except ValueError:
            body = {"_raw": raw}
        book.requests.append(Recorded(request.method, request.path, dict(request.headers),
                                      body if isinstance(body, dict) else {},
                                      request.query_string.decode()))
        return body if isinstance(body, dict) else {}

    @app.errorhandler(AngelError)
    async def angel_error(exc: AngelError) -> Response:
        return failure(exc.code, exc.message, exc.status)

    @app.errorhandler(InvalidToken)
    async def bad_token(_: InvalidToken) -> Response:
        return invalid_token()

    def authed(group: str, handler: Callable[[dict[str, Any]], Awaitable[Response]],
               ) -> Callable[..., Awaitable[Response]]:
        async def view(**kwargs: str) -> Response:
            body = await record()
            book.authorize(request.headers.get("X-PrivateKey"),
                           request.headers.get("Authorization"))
            fault = book.take_fault(group)
            if fault is not None:
                if fault.kind == "accept_then_timeout":
                    data = book.place(body)  # booked; the answer comes after the client gave up
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=fault.hang_s)
                    return ok(data)
                answer = fault_answer(fault)
                assert answer is not None, f"unknown fault {fault.kind}"
                return answer
            return await handler({**body, **kwargs})
        view.__name__ = f"view_{handler.__name__}"
        return view

    def route(path: str, method: str, group: str,
              ) -> Callable[[Callable[[dict[str, Any]], Awaitable[Response]]], None]:
        def register(handler: Callable[[dict[str, Any]], Awaitable[Response]]) -> None:
            app.add_url_rule(path, view_func=authed(group, handler), methods=[method])
        return register

    @app.post("/rest/auth/angelbroking/user/v1/loginByPassword")
    async def login() -> Response:
        body = await record()
        if request.headers.get("X-PrivateKey") != book.api_key:
            return failure("AG8004", "Invalid API Key", 403)
        return ok(book.login(body))

    @route("/rest/auth/angelbroking/jwt/v1/generateTokens", "POST", "read")
    async def generate_tokens(body: dict[str, Any]) -> Response:
        return ok(book.refresh(str(body.get("refreshToken", ""))))

    @route(f"{SECURE}/user/v1/getProfile", "GET", "read")
    async def profile(_: dict[str, Any]) -> Response:
        return ok({"clientcode": book.client_code, "name": "FAKE TRADER",
                   "email": "", "mobileno": "", "exchanges": ["nse_cm", "bse_cm", "nse_fo"],
                   "products": ["MARGIN", "MIS", "NRML", "CNC", "CO", "BO"],
                   "lastlogintime": "", "brokerid": "B2C"})

    @route(f"{SECURE}/user/v1/logout", "POST", "read")
    async def logout(_: dict[str, Any]) -> Response:
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        book.jwts.discard(token)
        return ok(None)

    @route(f"{SECURE}/order/v1/placeOrder", "POST", "order")
    async def place(body: dict[str, Any]) -> Response:
        return ok(book.place(body))

    @route(f"{SECURE}/order/v1/getOrderBook", "GET", "read")
    async def order_book(_: dict[str, Any]) -> Response:
        return ok(list(book.orders.values()) or None)

    @route(f"{SECURE}/order/v1/details/<unique>", "GET", "read")
    async def details(body: dict[str, Any]) -> Response:
        order = book.by_unique(str(body.get("unique", "")))
        if order is None:
            return failure("AB1013", "Order not found")
        return ok(order)

    @route(f"{SECURE}/order/v1/getPosition", "GET", "read")
    async def positions(_: dict[str, Any]) -> Response:
        return ok(book.positions() or None)

    @route(f"{SECURE}/order/v1/getLtpData", "POST", "read")
    async def ltp(body: dict[str, Any]) -> Response:
        key = (str(body.get("exchange")), str(body.get("tradingsymbol")))
        price = book.prices.get(key)
        if price is None:
            return failure("AB1018", "No data found")  # a code of the fake's own
        rupees = price / 100
        return ok({"exchange": key[0], "tradingsymbol": key[1],
                   "symboltoken": body.get("symboltoken"), "open": rupees, "high": rupees,
                   "low": rupees, "close": rupees, "ltp": rupees})

    @app.get(MASTER_PATH)
    async def master() -> Response:
        await record()
        return Response(book.master, status=200, content_type="application/json")

    return app
