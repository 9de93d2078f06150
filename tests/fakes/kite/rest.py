"""The fake Kite REST API (Quart): Kite's paths, form bodies, JSON envelopes and errors.

Success: `{"status": "success", "data": ...}` with `Content-Type: application/json`;
failure: the HTTP status with `{"status": "error", "message", "error_type", "data": null}`;
the instrument dump is `text/csv`. Every call but /session/token needs
`Authorization: token api_key:access_token` (403 TokenException otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, Response, request

from tests.fakes.kite.book import Fault, KiteBook, KiteError, Recorded

Handler = Callable[..., Awaitable[Response]]


def ok(data: Any) -> Response:
    """Kite's success envelope."""
    return Response(json.dumps({"status": "success", "data": data}), status=200,
                    content_type="application/json")


def error(status: int, error_type: str, message: str) -> Response:
    """Kite's error envelope."""
    body = {"status": "error", "message": message, "data": None, "error_type": error_type}
    return Response(json.dumps(body), status=status, content_type="application/json")


def create_rest_app(book: KiteBook, stop: asyncio.Event) -> Quart:
    """The REST half of the fake."""
    app = Quart("fake-kite")

    async def record() -> dict[str, str]:
        form = {k: v for k, v in (await request.form).items()}
        book.requests.append(Recorded(request.method, request.path, dict(request.headers),
                                      form, list(request.args.items(multi=True))))
        return form

    def fault_answer(fault: Fault) -> Response | None:
        if fault.kind == "token_expired":
            return error(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        if fault.kind == "rate_limit":
            response = error(429, "NetworkException", "Too many requests")
            response.headers["Retry-After"] = "1"
            return response
        if fault.kind == "error_5xx":
            return error(fault.status if fault.status >= 500 else 503,
                         fault.error_type if fault.status >= 500 else "NetworkException",
                         fault.message)
        if fault.kind == "reject":
            return error(fault.status, fault.error_type, fault.message)
        return None

    async def hang(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    @app.errorhandler(KiteError)
    async def kite_error(exc: KiteError) -> Response:
        return error(exc.status, exc.error_type, exc.message)

    @app.post("/session/token")
    async def session_token() -> Response:
        form = await record()
        return ok(book.exchange(form.get("api_key", ""), form.get("request_token", ""),
                                form.get("checksum", "")))

    @app.delete("/session/token")
    async def logout() -> Response:
        await record()
        book.access_tokens.discard(request.args.get("access_token", ""))
        return ok(True)

    async def authed(group: str) -> tuple[dict[str, str], Fault | None]:
        form = await record()
        book.authorize(request.headers.get("Authorization"))
        return form, book.take_fault(group)

    @app.get("/user/profile")
    async def profile() -> Response:
        _, fault = await authed("read")
        if fault is not None and (answer := fault_answer(fault)) is not None:
            return answer
        return ok({"user_id": book.user_id, "user_name": "Fake Trader", "broker": "ZERODHA",
                   "user_type": "individual", "email": "fake@example.com"})

    @app.post("/orders/<variety>")
    async def place(variety: str) -> Response:
        form, fault = await authed("order")
        kind = fault.kind if fault is not None else None
        if fault is not None and kind not in ("accept_then_timeout", "book_then_5xx",
                                              "rms_reject"):
            answer = fault_answer(fault)
            assert answer is not None, f"unknown fault {kind}"
            return answer
        rms = fault.message if fault is not None and kind == "rms_reject" else None
        order_id = book.place(variety, form, rms_reject=rms)
        if fault is not None and kind == "accept_then_timeout":
            await hang(fault.hang_s)  # booked; the answer comes after the client gave up
        if fault is not None and kind == "book_then_5xx":
            return error(fault.status if fault.status >= 500 else 502, "DataException",
                         fault.message)
        return ok({"order_id": order_id})

    @app.get("/orders")
    async def orders() -> Response:
        _, fault = await authed("read")
        if fault is not None and (answer := fault_answer(fault)) is not None:
            return answer
        return ok(book.order_book())

    @app.get("/orders/<order_id>")
    async def order_history(order_id: str) -> Response:
        _, fault = await authed("read")
        if fault is not None and (answer := fault_answer(fault)) is not None:
            return answer
        if order_id not in book.orders:
            return error(400, "InputException", "Couldn't find that `order_id`.")
        return ok(book.orders[order_id])

    @app.get("/portfolio/positions")
    async def positions() -> Response:
        _, fault = await authed("read")
        if fault is not None and (answer := fault_answer(fault)) is not None:
            return answer
        return ok(book.positions())

    @app.get("/quote/ltp")
    async def ltp() -> Response:
        _, fault = await authed("read")
        if fault is not None and (answer := fault_answer(fault)) is not None:
            return answer
        data = {}
        for key in request.args.getlist("i"):
            price = book.prices.get(key)
            token = book.token_of(key)
            if price is not None and token is not None:
                data[key] = {"instrument_token": token, "last_price": float(price)}
        return ok(data)

    @app.get("/instruments")
    @app.get("/instruments/<exchange>")
    async def instruments(exchange: str | None = None) -> Response:
        _, fault = await authed("read")
        if fault is not None and (answer := fault_answer(fault)) is not None:
            return answer
        lines = book.instruments_csv.splitlines(keepends=True)
        if exchange is not None:
            lines = lines[:1] + [ln for ln in lines[1:] if ln.rstrip().endswith(f",{exchange}")]
        return Response("".join(lines), status=200, content_type="text/csv")

    return app

