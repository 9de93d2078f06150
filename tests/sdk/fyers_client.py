"""Fyers' official SDK (fyers-apiv3) against the fake Fyers; run by tests/test_fyers_sdk.py.

    fyers_client.py rest|errors|parse|socket '<json arguments>'

Runs under .venv-sdk's Python: only the SDK and the standard library. The SDK's URLs are
constants, set here to the fake's: `fyersModel.Config.API` / `DATA_API` (class attributes),
the data socket's private `_FyersDataSocket__url`, and the symbol-token URL that
`SymbolConversion` sets in its constructor; the index-name cache is pre-filled so the SDK
does not fetch public.fyers.in. Its log files go to the `log_path` the test gives. The
answer is one JSON line on stdout (anything the SDK prints goes to stderr); `socket` tells
the test when it has subscribed and waits for the ticks the test then pushes.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import warnings
from typing import Any

OUT = sys.stdout
sys.stdout = sys.stderr  # anything the SDK prints stays off the answer


def say(message: Any) -> None:
    """One JSON line to the test."""
    OUT.write(json.dumps(message, default=str) + "\n")
    OUT.flush()


def sdk(args: dict[str, Any]) -> tuple[Any, Any]:
    """fyersModel and the data socket's module, pointed at the fake."""
    with warnings.catch_warnings():  # it imports pkg_resources (deprecated)
        warnings.simplefilter("ignore")
        from fyers_apiv3 import fyersModel
        from fyers_apiv3.FyersWebsocket import data_ws

    api_url = args["api_url"]
    fyersModel.Config.API = f"{api_url}/api/v3"
    fyersModel.Config.DATA_API = f"{api_url}/data"
    data_ws.SymbolConversion._index_hsm_mapping_cache = {}
    original = data_ws.SymbolConversion.__init__

    def init(self: Any, *args_: Any, **kwargs: Any) -> None:
        original(self, *args_, **kwargs)
        self.symbols_token_api = f"{api_url}/data/symbol-token"

    data_ws.SymbolConversion.__init__ = init
    return fyersModel, data_ws


def rest(args: dict[str, Any]) -> dict[str, Any]:
    """The auth-code exchange (`SessionModel`), profile, a tagged order, the book (all, by
    tag, by id), positions, quotes (GET and POST)."""
    model, _ = sdk(args)
    session = model.SessionModel(client_id=args["app_id"], secret_key=args["secret"],
                                 redirect_uri="https://app.example/fyers",
                                 response_type="code", grant_type="authorization_code")
    authcode_url = session.generate_authcode()
    session.set_token(args["auth_code"])
    login = session.generate_token()
    token = login["access_token"]
    client = model.FyersModel(client_id=args["app_id"], token=token,
                              log_path=args["log_path"])
    order = {"symbol": "NSE:RELIANCE-EQ", "qty": 2, "type": 2, "side": 1,
             "productType": "INTRADAY", "limitPrice": 0, "stopPrice": 0, "validity": "DAY",
             "disclosedQty": 0, "offlineOrder": False, "stopLoss": 0, "takeProfit": 0,
             "orderTag": "sdk1", "isSliceOrder": False}
    placed = client.place_order(order)
    return {
        "authcode_url": authcode_url, "login": login, "profile": client.get_profile(),
        "placed": placed, "book": client.orderbook(),
        "by_tag": client.orderbook({"order_tag": "1:sdk1"}),
        "by_id": client.get_orders({"id": placed.get("id")}),
        "positions": client.positions(),
        "quotes": client.quotes({"symbols": "NSE:RELIANCE-EQ,NSE:SBIN-EQ"}),
        "quotes_v2": client.quotes_v2({"symbols": ["NSE:INFY-EQ"]}),
    }


def errors(args: dict[str, Any]) -> dict[str, Any]:
    """An order the fake rejects (armed by the test), and a stranger's token."""
    model, _ = sdk(args)
    client = model.FyersModel(client_id=args["app_id"], token=args["access_token"],
                              log_path=args["log_path"])
    refused = client.place_order({"symbol": "NSE:SBIN-EQ", "qty": 1, "type": 2, "side": 1,
                                  "productType": "INTRADAY"})
    stranger = model.FyersModel(client_id=args["app_id"], token="not-a-token",
                                log_path=args["log_path"])
    return {"refused": refused, "stranger": stranger.positions()}


def parse(args: dict[str, Any]) -> dict[str, Any]:
    """The SDK's own frame dispatcher on the fake's frames, in order."""
    _, data_ws = sdk(args)
    messages: list[Any] = []
    errors_: list[Any] = []
    sock = data_ws.FyersDataSocket(access_token="APP-100:a.b.c", log_path=args["log_path"],
                                   litemode=False, on_message=messages.append,
                                   on_error=errors_.append)
    handle = sock._FyersDataSocket__response_msg
    sock.symbol_token = args["symbol_token"]  # what its subscribe() records
    for frame in args["frames"]:
        handle(bytes.fromhex(frame))
    return {"messages": messages, "errors": errors_}


def socket(args: dict[str, Any]) -> dict[str, Any]:
    """The SDK's data socket, live: connect (it sleeps 2 s), wait for the auth answer,
    subscribe, tell the test, then wait for `ticks` ticks and close."""
    _, data_ws = sdk(args)
    messages: list[Any] = []
    errors_: list[Any] = []
    lock = threading.Lock()

    def on_message(message: Any) -> None:
        with lock:
            messages.append(message)

    def wait_for(what: str, check: Any) -> None:
        deadline = time.monotonic() + 15
        while True:
            with lock:
                if check(list(messages)):
                    return
            if time.monotonic() > deadline:
                raise SystemExit(f"no {what}: {messages} {errors_}")
            time.sleep(0.02)

    sock = data_ws.FyersDataSocket(access_token=args["access_token"],
                                   log_path=args["log_path"], litemode=True,
                                   reconnect=False, on_message=on_message,
                                   on_error=errors_.append, on_connect=lambda: None,
                                   on_close=lambda _: None)
    sock._FyersDataSocket__url = args["ws_url"]
    try:
        sock.connect()
        wait_for("auth answer", lambda ms: any(m.get("type") == "cn" for m in ms))
        sock.subscribe(symbols=args["symbols"], data_type="SymbolUpdate")
        say({"subscribed": args["symbols"]})
        wait_for("ticks", lambda ms: len([m for m in ms if "ltp" in m]) >= args["ticks"])
    finally:
        sock.close_connection()  # joins its ping thread (up to 10 s)
    return {"messages": messages, "errors": errors_}


if __name__ == "__main__":
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    say({"rest": rest, "errors": errors, "parse": parse, "socket": socket}[command](
        arguments))
