"""Dhan's official SDK (dhanhq) against the fake Dhan; run by tests/test_dhan_sdk.py.

    dhan_client.py login|orders|errors|feed '<json arguments>'

Runs under .venv-sdk's Python: only the SDK and the standard library. The SDK's URLs are
class attributes (`DhanHTTP.API_BASE_URL`, copied to the instance in `__init__`;
`DhanLogin.AUTH_BASE_URL` / `API_BASE_URL`; `MarketFeed.market_feed_wss`), set here to the
fake's, and its consent login's `webbrowser.open` does nothing. The answer is one JSON line
on stdout (the SDK prints to stdout: that goes to stderr here); `login`, `orders` and `feed`
converse with the test: a JSON line out when it must act on the fake, one in when it has.
"""

from __future__ import annotations

import json
import sys
from typing import Any

OUT = sys.stdout
sys.stdout = sys.stderr  # the SDK's prints stay off the answer


def say(message: Any) -> None:
    """One JSON line to the test."""
    OUT.write(json.dumps(message, default=str) + "\n")
    OUT.flush()


def hear() -> Any:
    """The test's next JSON line (None at EOF)."""
    line = sys.stdin.readline()
    return json.loads(line) if line else None


def sdk(args: dict[str, Any]) -> Any:
    """The SDK's modules, pointed at the fake."""
    import dhanhq
    from dhanhq import auth, marketfeed

    dhanhq.DhanHTTP.API_BASE_URL = args["api_url"]
    dhanhq.DhanLogin.AUTH_BASE_URL = args["auth_url"]
    dhanhq.DhanLogin.API_BASE_URL = args["api_url"]
    marketfeed.MarketFeed.market_feed_wss = args["ws_url"]
    auth.webbrowser.open = lambda url, *_, **__: True
    return dhanhq


def client(args: dict[str, Any], token: str) -> Any:
    """The SDK's client on a session at the fake."""
    dhanhq = sdk(args)
    return dhanhq.dhanhq(dhanhq.DhanContext(args["client_id"], token))


def login(args: dict[str, Any]) -> dict[str, Any]:
    """PIN + TOTP, profile, renewal; then the consent flow (the test approves the consent,
    as the user's browser login would, and sends back the tokenId)."""
    dhanhq = sdk(args)
    login = dhanhq.DhanLogin(args["client_id"])
    session = login.generate_token(args["pin"], args["totp"])
    profile = login.user_profile(session["accessToken"])
    renewed = login.renew_token(session["accessToken"])
    consent = login.generate_login_session(args["app_id"], args["app_secret"])
    say({"consent": consent})
    token_id = hear()["token_id"]
    consumed = login.consume_token_id(token_id, args["app_id"], args["app_secret"])
    return {"session": session, "profile": profile, "renewed": renewed,
            "consumed": consumed}


def orders(args: dict[str, Any]) -> dict[str, Any]:
    """A tagged MARKET order, read by id, by tag, in the book; positions, LTP; then (once
    the test holds orders) an order left open, cancelled."""
    dhan = client(args, args["access_token"])
    tag = args["tag"]
    placed = dhan.place_order(security_id="2885", exchange_segment=dhan.NSE,
                              transaction_type=dhan.BUY, quantity=3,
                              order_type=dhan.MARKET, product_type=dhan.INTRA, price=0,
                              tag=tag)
    order_id = placed["data"]["orderId"]
    answer = {"placed": placed, "by_id": dhan.get_order_by_id(order_id),
              "by_tag": dhan.get_order_by_correlationID(tag),
              "book": dhan.get_order_list(), "positions": dhan.get_positions(),
              "ltp": dhan.ticker_data({"NSE_EQ": [2885]})}
    say({"ready": "hold_orders"})
    hear()
    held = dhan.place_order(security_id="3045", exchange_segment=dhan.NSE,
                            transaction_type=dhan.SELL, quantity=1, order_type=dhan.MARKET,
                            product_type=dhan.INTRA, price=0)
    answer["cancelled"] = dhan.cancel_order(held["data"]["orderId"])
    return answer


def errors(args: dict[str, Any]) -> dict[str, Any]:
    """A stranger's token, and an order for a security that does not exist."""
    stranger = client(args, "not-a-token").get_order_list()
    dhan = client(args, args["access_token"])
    bad = dhan.place_order(security_id="999999", exchange_segment=dhan.NSE,
                           transaction_type=dhan.BUY, quantity=1, order_type=dhan.MARKET,
                           product_type=dhan.INTRA, price=0)
    return {"stranger": stranger, "bad": bad}


def feed(args: dict[str, Any]) -> dict[str, Any]:
    """The SDK's MarketFeed (v2) subscribes to one ticker and parses what arrives: the first
    packet goes to the test, which then pushes a tick."""
    dhanhq = sdk(args)
    from dhanhq import marketfeed

    context = dhanhq.DhanContext(args["client_id"], args["access_token"])
    market = marketfeed.MarketFeed(context, [(marketfeed.MarketFeed.NSE, "2885", 15)], "v2")
    try:
        market.loop.run_until_complete(market.connect())
        say({"first": market.get_data()})
        tick = market.get_data()
    finally:
        market.close_connection()
        market.loop.close()
    return {"tick": tick}


if __name__ == "__main__":
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    say({"login": login, "orders": orders, "errors": errors, "feed": feed}[command](
        arguments))
