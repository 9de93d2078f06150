"""The fake Fyers REST API (Quart): Fyers' paths, JSON bodies and flat `{"s", "code",
"message", ...}` answers, errors with their HTTP status and negative code. Every call
under /api/v3 and /data but the token endpoints needs `Authorization: app_id:token`
(401 otherwise; /data/symbol-token takes the bare token, as the SDK's data socket sends
it); symbol masters are public under /sym_details."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from quart import Quart, Response, request

from tests.fakes.fyers.book import Fault, FyersBook, FyersError, Recorded, fytoken_of


def answer(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON answer."""
    return Response(json.dumps(body), status=status, content_type="application/json")


def error(status: int, code: int, message: str) -> Response:
    """Fyers' error body."""
    return answer({"s": "error", "code": code, "message": message}, status)


def fault_answer(fault: Fault) -> Response | None:
    """The wire answer of a switch that books nothing."""
    if fault.kind == "token_expired":
        return error(401, -8, "Your token has expired. Please generate a token")
    if fault.kind == "rate_limit":
        response = error(429, -429, "request limit reached")
        response.headers["Retry-After"] = "1"
        return response
    if fault.kind == "error_5xx":
        return error(fault.status if fault.status >= 500 else 503, -1, fault.message)
    if fault.kind == "reject":
        return error(fault.status, fault.code, fault.message)
    return None


def create_rest_app(book: FyersBook, stop: asyncio.Event) -> Quart:
    """The REST half of the fake."""
    app = Quart("fake-fyers")

    async def record() -> Any:
        raw = await request.get_data(as_text=True)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        book.requests.append(Recorded(request.method, request.path,
                                      {k.lower(): v for k, v in request.headers.items()},
                                      body, list(request.args.items(multi=True))))
        return body

    async def authed(group: str) -> tuple[Any, Fault | None]:
        body = await record()
        book.authorize(request.headers.get("Authorization"))
        return body, book.take_fault(group)

    async def hang(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    @app.errorhandler(FyersError)
    async def fyers_error(exc: FyersError) -> Response:
        return error(exc.status, exc.code, exc.message)

    @app.post("/api/v3/validate-authcode")
    async def validate_authcode() -> Response:
        body = await record()
        return answer(book.validate_authcode(body if isinstance(body, dict) else {}))

    @app.get("/api/v3/profile")
    async def profile() -> Response:
        _, fault = await authed("read")
        if fault is not None and (failed := fault_answer(fault)) is not None:
            return failed
        return answer({"s": "ok", "code": 200, "message": "", "data": {
            "name": "FAKE TRADER", "display_name": "Fake", "fy_id": book.fy_id,
            "email_id": "f***@example.com", "pan": "", "mobile_number": "", "totp": True,
            "pwd_to_expire": 42, "ddpi_enabled": False, "mtf_enabled": False}})

    @app.post("/api/v3/orders/sync")
    async def place() -> Response:
        body, fault = await authed("order")
        kind = fault.kind if fault is not None else None
        if fault is not None and kind not in ("accept_then_timeout", "book_then_5xx",
                                              "rms_reject", "no_ack"):
            failed = fault_answer(fault)
            assert failed is not None, f"unknown fault {kind}"
            return failed
        rms = fault.message if fault is not None and kind == "rms_reject" else None
        order_id = book.place(body if isinstance(body, dict) else {}, rms_reject=rms)
        if fault is not None and kind == "accept_then_timeout":
            await hang(fault.hang_s)  # booked; the answer comes after the client gave up
        if fault is not None and kind == "book_then_5xx":
            return error(502, -1, fault.message)
        if fault is not None and kind == "no_ack":
            return answer({"s": "ok", "code": 201, "message": "Order request sent, no "
                           "acknowledgement from the exchange", "id": ""})
        return answer({"s": "ok", "code": 1101, "id": order_id,
                       "message": f"Order submitted successfully. Your Order Ref. No.{order_id}"})

    @app.get("/api/v3/orders")
    async def orders() -> Response:
        _, fault = await authed("read")
        if fault is not None and (failed := fault_answer(fault)) is not None:
            return failed
        order_id = request.args.get("id")
        if order_id is not None and order_id not in book.orders:
            return error(400, -51, "Invalid order id")
        return answer({"s": "ok", "code": 200, "message": "", "orderBook": book.order_book(
            order_id=order_id, tag=request.args.get("order_tag"))})

    @app.get("/api/v3/positions")
    async def positions() -> Response:
        _, fault = await authed("read")
        if fault is not None and (failed := fault_answer(fault)) is not None:
            return failed
        return answer(book.positions())

    @app.route("/data/quotes", methods=["GET", "POST"])
    async def quotes() -> Response:
        body, fault = await authed("read")
        if fault is not None and (failed := fault_answer(fault)) is not None:
            return failed
        wanted = (body.get("symbols", []) if isinstance(body, dict)
                  else request.args.get("symbols", "").split(","))
        return answer({"s": "ok", "code": 200, "message": "",
                       "d": [_quote(book, ticker) for ticker in wanted if ticker]})

    @app.post("/data/symbol-token")
    async def symbol_token() -> Response:
        body = await record()
        book.authorize(request.headers.get("Authorization"), with_app_id=False)
        wanted = body.get("symbols", []) if isinstance(body, dict) else []
        valid = {t: fytoken_of(t) for t in wanted if fytoken_of(t)}
        return answer({"s": "ok", "code": 200, "message": "", "validSymbol": valid,
                       "invalidSymbol": [t for t in wanted if t not in valid]})

    @app.get("/sym_details/<name>")
    async def symbol_master(name: str) -> Response:
        await record()
        if name != "NSE_CM.csv":
            return Response("Not Found", status=404, content_type="text/plain")
        return Response(book.master_csv, status=200, content_type="text/csv")

    return app


def _quote(book: FyersBook, ticker: str) -> dict[str, Any]:
    price = book.prices.get(ticker)
    if price is None:
        return {"n": ticker, "s": "error", "v": {"errmsg": "Invalid symbol"}}
    lp = float(price)
    exchange, _, name = ticker.partition(":")
    return {"n": ticker, "s": "ok", "v": {
        "ch": 0.0, "chp": 0.0, "lp": lp, "spread": 0.05, "ask": lp, "bid": lp,
        "open_price": lp, "high_price": lp, "low_price": lp, "prev_close_price": lp,
        "atp": lp, "volume": 1000, "short_name": name, "exchange": exchange,
        "description": ticker, "original_name": ticker, "symbol": ticker,
        "fyToken": fytoken_of(ticker) or "", "tt": "1764028800"}}
