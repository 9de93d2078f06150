"""Zerodha's official SDK (kiteconnect) against the fake Kite; run by tests/test_zerodha_sdk.py.

    zerodha_client.py rest|errors|parse|ticker '<json arguments>'

Runs under .venv-sdk's Python: only the SDK and the standard library. The answer is one JSON
line on stdout (the SDK's own output goes to stderr); `errors` and `ticker` converse with the
test: a JSON line out when it must act on the fake, a JSON line in when it has.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime
from typing import Any

OUT = sys.stdout
sys.stdout = sys.stderr  # anything the SDK prints stays off the answer


def say(message: Any) -> None:
    """One JSON line to the test."""
    OUT.write(json.dumps(message, default=str) + "\n")
    OUT.flush()


def hear() -> Any:
    """The test's next JSON line (None at EOF)."""
    line = sys.stdin.readline()
    return json.loads(line) if line else None


def logged_in(args: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A client whose session `generate_session` made, and that session's checks."""
    import kiteconnect

    kite = kiteconnect.KiteConnect(api_key=args["api_key"], root=args["api_url"], timeout=5)
    session = kite.generate_session(args["request_token"], api_secret=args["api_secret"])
    return kite, {"access_token": session["access_token"], "user_id": session["user_id"],
                  "login_time_parsed": isinstance(session["login_time"], datetime)}


def rest(args: dict[str, Any]) -> dict[str, Any]:
    """Login, profile, a tagged MARKET order, the book, history, positions, LTP, master."""
    kite, session = logged_in(args)
    profile = kite.profile()
    order_id = kite.place_order(variety=kite.VARIETY_REGULAR, exchange=kite.EXCHANGE_NSE,
                                tradingsymbol="RELIANCE",
                                transaction_type=kite.TRANSACTION_TYPE_BUY, quantity=2,
                                product=kite.PRODUCT_MIS, order_type=kite.ORDER_TYPE_MARKET,
                                market_protection=-1, tag="sdk1")
    orders = kite.orders()
    history = kite.order_history(order_id)
    positions = kite.positions()
    ltp = kite.ltp("NSE:RELIANCE", "NSE:INFY", "NSE:NOSUCH")
    instruments = kite.instruments("NSE")
    return {
        "session": session, "profile_user_id": profile["user_id"], "order_id": order_id,
        "orders": [{"order_id": o["order_id"], "tag": o["tag"], "status": o["status"],
                    "timestamp_parsed": isinstance(o["order_timestamp"], datetime)}
                   for o in orders],
        "history_statuses": [h["status"] for h in history],
        "net": [[p["tradingsymbol"], p["quantity"]] for p in positions["net"]],
        "day_buy_values": [p["buy_value"] for p in positions["day"]],
        "ltp": ltp,
        "instruments": [[i["tradingsymbol"], i["instrument_token"]] for i in instruments
                        if i["tradingsymbol"] == "RELIANCE"],
    }


def errors(args: dict[str, Any]) -> dict[str, Any]:
    """Each armed fault as the SDK raises it (the test arms the expired token last)."""
    from kiteconnect.exceptions import KiteException

    kite, _ = logged_in(args)
    expired: list[bool] = []
    kite.set_session_expiry_hook(lambda: expired.append(True))

    def caught(call: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            answer = call(**kwargs)
        except KiteException as exc:  # the SDK's own exception classes, reported by name
            return {"class": type(exc).__name__, "message": str(exc),
                    "code": getattr(exc, "code", None)}
        return {"class": None, "answer": answer}

    order = {"variety": "regular", "exchange": "NSE", "tradingsymbol": "RELIANCE",
             "transaction_type": "BUY", "quantity": 1, "product": "MIS",
             "order_type": "MARKET"}
    placed = [caught(kite.place_order, **order, market_protection=-1, tag="sdk2")
              for _ in range(4)]
    unprotected = caught(kite.place_order, **order)  # Kite refuses unprotected MARKET
    say({"ready": "token_expired"})
    hear()
    read = caught(kite.orders)
    return {"placed": placed, "unprotected": unprotected, "orders": read,
            "expiry_hook_calls": len(expired)}


def parse(args: dict[str, Any]) -> dict[str, Any]:
    """The SDK's binary parser on frames the fake produced."""
    import kiteconnect

    parser = kiteconnect.KiteTicker("fakekey", "token")
    return {name: parser._parse_binary(bytes.fromhex(frame))
            for name, frame in args["frames"].items()}


def ticker(args: dict[str, Any]) -> dict[str, Any]:
    """KiteTicker on its twisted reactor: subscribes in full mode on connect; then, for each
    `{"await": price}` from the test, waits for a tick at that price and answers with the
    ticks so far, until `{"stop": true}`."""
    import kiteconnect
    from twisted.internet import reactor

    token = args["instrument_token"]
    ticks: list[dict[str, Any]] = []
    lock = threading.Lock()
    kws = kiteconnect.KiteTicker(args["api_key"], args["access_token"], root=args["ws_url"],
                                 reconnect_max_delay=5)

    def on_connect(ws: Any, response: Any) -> None:
        ws.subscribe([token])
        ws.set_mode(ws.MODE_FULL, [token])

    def on_ticks(ws: Any, batch: list[dict[str, Any]]) -> None:
        with lock:
            ticks.extend(batch)

    kws.on_connect = on_connect
    kws.on_ticks = on_ticks
    kws.connect(threaded=True)
    try:
        while (message := hear()) is not None and not message.get("stop"):
            deadline = time.monotonic() + 15
            while True:
                with lock:
                    seen = list(ticks)
                if any(t["last_price"] == message["await"] for t in seen):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"no tick at {message['await']}: {seen}")
                time.sleep(0.02)
            say({"ticks": seen})
    finally:
        kws.stop_retry()
        reactor.callFromThread(kws._close)
        reactor.callFromThread(reactor.stop)
        thread = getattr(kws, "websocket_thread", None)
        if thread is not None:
            thread.join(10)
    return {"ticks": ticks}


if __name__ == "__main__":
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    say({"rest": rest, "errors": errors, "parse": parse, "ticker": ticker}[command](arguments))
