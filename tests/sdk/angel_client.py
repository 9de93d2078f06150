"""Angel One's official SDK (smartapi-python) against the fake SmartAPI; run by
tests/test_angel_sdk.py.

    angel_client.py login|orders|socket '<json arguments>'

Runs under .venv-sdk's Python: only the SDK (and pyotp, which its users log in with) and
the standard library. The SDK's quirks (brokers PROTOCOLS notes §6): it asks api.ipify.org
for the public IP at import (refused here before it is imported), writes
`logs/<date>/app.log` into the working directory (the test's temporary one here, the file
itself not opened), and takes its REST root from `root=` but its WebSocket URL from the
class attribute `SmartWebSocketV2.ROOT_URI` and the order-details root from `_rootUrl`
(both set here). The answer is one JSON line on stdout (anything the SDK prints goes to
stderr); `socket` tells the test when it has subscribed and waits for the tick the test
then pushes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

OUT = sys.stdout
sys.stdout = sys.stderr  # anything the SDK prints stays off the answer


def say(message: Any) -> None:
    """One JSON line to the test."""
    OUT.write(json.dumps(message, default=str) + "\n")
    OUT.flush()


def _no_network(*_: object, **__: object) -> Any:
    raise OSError("no network in tests")


def sdk(args: dict[str, Any]) -> tuple[Any, Any]:
    """SmartApi.smartConnect and SmartApi.smartWebSocketV2, imported without network, in
    the test's folder, with no log file."""
    os.chdir(args["workdir"])
    import logzero
    import requests

    logzero.logfile = lambda *_, **__: None
    real_get = requests.get
    requests.get = _no_network
    try:
        from SmartApi import smartConnect, smartWebSocketV2
    finally:
        requests.get = real_get
    return smartConnect, smartWebSocketV2


def logged_in(connect: Any, args: dict[str, Any]) -> tuple[Any, Any]:
    """A client at the fake after `generateSession()`, and what it returned."""
    import pyotp

    client = connect.SmartConnect(api_key=args["api_key"], root=args["api_url"])
    code = pyotp.TOTP(args["totp_secret"]).now()
    return client, client.generateSession(args["client_code"], args["pin"], code)


def login(args: dict[str, Any]) -> dict[str, Any]:
    """Login, feed token, renewal; a wrong PIN."""
    connect, _ = sdk(args)
    client, data = logged_in(connect, args)
    renewed = client.generateToken(data["data"]["refreshToken"])
    refused = connect.SmartConnect(api_key=args["api_key"], root=args["api_url"])
    wrong = refused.generateSession(args["client_code"], "0000", "123456")
    return {"session": data, "feed_token": client.getfeedToken(), "renewed": renewed,
            "wrong": wrong}


def orders(args: dict[str, Any]) -> dict[str, Any]:
    """Two tagged MARKET orders (`placeOrder`, `placeOrderFullResponse`), the book, one
    order's details, positions, LTP; an over-long tag."""
    connect, _ = sdk(args)
    client, _ = logged_in(connect, args)
    params = {"variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
              "transactiontype": "BUY", "exchange": "NSE", "ordertype": "MARKET",
              "producttype": "INTRADAY", "duration": "DAY", "price": "0", "squareoff": "0",
              "stoploss": "0", "quantity": "4", "ordertag": "SDKTAG1"}
    order_id = client.placeOrder(dict(params))
    full = client.placeOrderFullResponse(dict(params))
    book = client.orderBook()
    client._rootUrl = args["api_url"]  # the SDK reads the class root here
    details = client.individual_order_details(full["data"]["uniqueorderid"])
    return {"order_id": order_id, "full": full, "book": book, "details": details,
            "positions": client.position(), "ltp": client.ltpData("NSE", "SBIN-EQ", "3045"),
            "bad_tag": client.placeOrder(dict(params, ordertag="T" * 21))}


def socket(args: dict[str, Any]) -> dict[str, Any]:
    """SmartWebSocketV2, live: subscribe on open, tell the test, wait for a tick, close."""
    connect, websocket_v2 = sdk(args)
    client, data = logged_in(connect, args)
    socket_class = websocket_v2.SmartWebSocketV2
    socket_class.ROOT_URI = args["ws_url"]
    socket_class.input_request_dict = {}
    received: list[Any] = []
    opened = threading.Event()
    sws = socket_class(data["data"]["jwtToken"], args["api_key"], args["client_code"],
                       client.getfeedToken(), max_retry_attempt=0)

    def on_open(wsapp: object) -> None:
        sws.subscribe("abcde12345", args["mode"], [{"exchangeType": 1, "tokens": ["2885"]}])
        opened.set()

    sws.on_open = on_open
    sws.on_data = lambda wsapp, message: received.append(message)
    # 1.5.5's `_on_close` takes too few arguments for websocket-client, which reports that
    # through `on_error`: no retries (they sleep 10 s), and a quiet handler.
    sws.on_error = lambda *_: None
    running = threading.Thread(target=sws.connect, daemon=True)
    running.start()
    try:
        if not opened.wait(15):
            raise SystemExit("the socket did not open")
        say({"subscribed": True})
        deadline = time.monotonic() + 15
        while not received:
            if time.monotonic() > deadline:
                raise SystemExit("no tick")
            time.sleep(0.02)
    finally:
        sws.close_connection()  # the SDK's close takes ~10 s to return (its own timeouts)
        running.join(20)
    return {"ticks": received, "closed": not running.is_alive()}


if __name__ == "__main__":
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    say({"login": login, "orders": orders, "socket": socket}[command](arguments))
