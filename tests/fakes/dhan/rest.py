"""The fake Dhan REST servers (Quart), all three hosts on one port: the API under `/v2`
(api.dhan.co), the login under `/app` and `/login` (auth.dhan.co), and the scrip master
under `/api-data` (images.dhan.co).

Trading API answers are bare JSON, errors `{"errorType", "errorCode", "errorMessage"}`
with an HTTP 4xx/5xx; the marketfeed answers in `{"data": ..., "status": "success"}` and
refuses with `{"data": {"808": "..."}, "status": "failed"}`. Every body is JSON (the SDK
json-decodes every answer, DELETE included). `access-token` is checked on every /v2 call,
`client-id` when sent (the SDK's DhanLogin sends `dhanClientId` instead on /profile) and
always on the marketfeed, as the docs require.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from quart import Quart, Response, redirect, request

from tests.fakes.dhan.book import INVALID_AUTH, DhanBook, DhanError, Fault, Recorded


def answer(body: Any, status: int = 200) -> Response:
    """A JSON answer."""
    return Response(json.dumps(body), status=status, content_type="application/json")


def fault_answer(fault: Fault) -> Response | None:
    """The wire answer of a fault that books nothing (None for the others)."""
    if fault.kind == "token_expired":
        status, code, kind, message = INVALID_AUTH
        return answer({"errorType": kind, "errorCode": code, "errorMessage": message}, status)
    if fault.kind == "invalid_token":
        return answer({"errorType": "Order_Error", "errorCode": "DH-906",
                       "errorMessage": "Invalid Token"}, 400)
    if fault.kind == "rate_limit":
        response = answer({"errorType": "Rate_Limit", "errorCode": "DH-904",
                           "errorMessage": "Too many requests on server from single user "
                                           "breaching rate limits. Try throttling API calls."},
                          429)
        response.headers["Retry-After"] = "1"
        return response
    if fault.kind == "error_5xx":
        return answer({"errorType": "Internal_Server_Error", "errorCode": "DH-908",
                       "errorMessage": fault.message}, fault.status if fault.status >= 500
                      else 500)
    if fault.kind == "reject":
        return answer({"errorType": fault.error_type, "errorCode": fault.code,
                       "errorMessage": fault.message}, fault.status)
    return None


def create_rest_app(book: DhanBook, stop: asyncio.Event) -> Quart:
    """The REST half of the fake."""
    app = Quart("fake-dhan")

    async def record() -> Any:
        raw = await request.get_data(as_text=True)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        headers = {k.lower(): v for k, v in request.headers.items()}
        book.requests.append(Recorded(request.method, request.path, headers,
                                      dict(request.args), body))
        return body

    async def authed(group: str, *, data_api: bool = False) -> tuple[Any, Fault | None]:
        body = await record()
        client_id = request.headers.get("client-id")
        if data_api and client_id is None:
            raise DhanError(400, "DH-905", "Input_Exception", "Missing client-id")
        book.authorize(request.headers.get("access-token"), client_id)
        return body, book.take_fault(group)

    async def hang(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    @app.errorhandler(DhanError)
    async def dhan_error(exc: DhanError) -> Response:
        return answer(exc.body, exc.status)

    def refused(fault: Fault | None) -> Response | None:
        return fault_answer(fault) if fault is not None else None

    # ---- auth.dhan.co -----------------------------------------------------------------

    @app.post("/app/generateAccessToken")
    async def pin_login() -> Response:
        await record()
        args = request.args
        return answer(book.pin_login(args.get("dhanClientId", ""), args.get("pin", ""),
                                     args.get("totp", "")))

    @app.post("/app/generate-consent")
    async def generate_consent() -> Response:
        await record()
        book.app(request.headers.get("app_id"), request.headers.get("app_secret"))
        consent = book.consent(request.args.get("client_id", ""))
        return answer({"consentAppId": consent, "consentAppStatus": "GENERATED",
                       "status": "success"})

    @app.get("/login/consentApp-login")
    async def consent_login() -> Any:
        await record()  # the user logs in here; Dhan sends the browser back with tokenId
        token_id = book.approve(request.args.get("consentAppId", ""))
        return redirect(f"{book.redirect_url}/?tokenId={token_id}")

    @app.get("/app/consumeApp-consent")
    async def consume_consent() -> Response:
        await record()
        book.app(request.headers.get("app_id"), request.headers.get("app_secret"))
        return answer(book.consume(request.args.get("tokenId", "")))

    # ---- images.dhan.co -----------------------------------------------------------------

    @app.get("/api-data/api-scrip-master.csv")
    async def scrip_master() -> Response:
        await record()
        return Response(book.scrip_csv, status=200, content_type="text/csv")

    # ---- api.dhan.co/v2 -----------------------------------------------------------------

    @app.get("/v2/profile")
    async def profile() -> Response:
        _, fault = await authed("read")
        if (refusal := refused(fault)) is not None:
            return refusal
        return answer({"dhanClientId": book.client_id, "tokenValidity": "30/11/2026 09:15",
                       "activeSegment": "Equity, Derivative", "ddpi": "Deactive",
                       "mtf": "Deactive", "dataPlan": "Active",
                       "dataValidity": "2026-12-31 23:59:59.0"})

    @app.get("/v2/RenewToken")
    async def renew() -> Response:
        await record()
        book.authorize(request.headers.get("access-token"), request.headers.get("dhanClientId"))
        return answer(book.session())

    @app.post("/v2/orders")
    async def place() -> Response:
        body, fault = await authed("order")
        kind = fault.kind if fault is not None else None
        if fault is not None and kind not in ("accept_then_timeout", "book_then_5xx",
                                              "rms_reject"):
            refusal = fault_answer(fault)
            assert refusal is not None, f"unknown fault {kind}"
            return refusal
        if not isinstance(body, dict):
            raise DhanError(400, "DH-905", "Input_Exception", "Invalid JSON body")
        rms = fault.message if fault is not None and kind == "rms_reject" else None
        placed = book.place(body, rms_reject=rms)
        if kind == "accept_then_timeout":
            assert fault is not None
            await hang(fault.hang_s)  # booked; the answer comes after the client gave up
        if kind == "book_then_5xx":
            return answer({"errorType": "Network_Error", "errorCode": "DH-909",
                           "errorMessage": "fake: booked, then the network failed"}, 502)
        return answer(placed)

    @app.get("/v2/orders")
    async def orders() -> Response:
        _, fault = await authed("read")
        if (refusal := refused(fault)) is not None:
            return refusal
        return answer(list(book.orders.values()))

    @app.get("/v2/orders/<order_id>")
    async def order(order_id: str) -> Response:
        _, fault = await authed("read")
        if (refusal := refused(fault)) is not None:
            return refusal
        if order_id not in book.orders:
            raise DhanError(400, "DH-905", "Input_Exception", "Invalid order id")
        return answer(book.orders[order_id])

    @app.delete("/v2/orders/<order_id>")
    async def cancel(order_id: str) -> Response:
        _, fault = await authed("order")
        if (refusal := refused(fault)) is not None:
            return refusal
        found = book.orders.get(order_id)
        if found is None or found["orderStatus"] not in ("TRANSIT", "PENDING"):
            raise DhanError(400, "DH-906", "Order_Error", "Order cannot be cancelled")
        found["orderStatus"] = "CANCELLED"
        return answer({"orderId": order_id, "orderStatus": "CANCELLED"}, 202)

    @app.get("/v2/orders/external/<correlation_id>")
    async def by_correlation(correlation_id: str) -> Response:
        _, fault = await authed("read")
        if (refusal := refused(fault)) is not None:
            return refusal
        found = book.by_correlation(correlation_id)
        if found is None:
            raise DhanError(400, "DH-905", "Input_Exception", "No order for correlation id")
        return answer(found)

    @app.get("/v2/positions")
    async def positions() -> Response:
        _, fault = await authed("read")
        if (refusal := refused(fault)) is not None:
            return refusal
        return answer(book.positions())

    @app.post("/v2/marketfeed/ltp")
    async def ltp() -> Response:
        try:
            body, fault = await authed("read", data_api=True)
        except DhanError:
            return answer({"data": {"808": "Authentication Failed - Client ID or Token "
                                           "invalid"}, "status": "failed"}, 401)
        if (refusal := refused(fault)) is not None:
            return refusal
        data: dict[str, dict[str, Any]] = {}
        for segment, ids in (body or {}).items():
            if not isinstance(ids, list):
                continue  # the SDK adds "dhanClientId" to every body
            for security_id in ids:
                price = book.prices.get((segment, str(security_id)))
                if price is not None:
                    data.setdefault(segment, {})[str(security_id)] = {
                        "last_price": float(price)}
        return answer({"data": data, "status": "success"})

    return app
