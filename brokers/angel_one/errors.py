"""SmartAPI's error model mapped onto brokers.errors.

Angel answers most failures with HTTP 200 and `{"status": false, "message", "errorcode",
"data": null}`; dead tokens have also been answered 200 with `{"success": false,
"errorCode": "AG8001"}`, or 401/403 (brokers PROTOCOLS notes §4.5). The SDK raises only
when a body names an `error_type`, which Angel never sends, so it returns such bodies as
they are (angel-one/smartapi-python @ff60852 SmartApi/smartConnect.py `_request`,
`placeOrder`). Codes: SmartAPI docs "Error Codes" and the official Go SDK's table.

    Angel says                                      order placement    any other call
    HTTP 429, or a body saying "exceeding access     RateLimited        RateLimited
      rate" (the gateway's throttle; wording UNVERIFIED)
    AG8001 invalid / AG8002 expired / AG8003        TokenExpired       TokenExpired
      missing token, AB8050 / AB8051 bad refresh
      token, AB1010 session expired, AB1011 not
      logged in, AB1050 bad TOTP, or HTTP 401/403
    AB1004 something went wrong, AB2001 internal,   Ambiguous          BrokerUnavailable
      AB1007 AMX (order system) error, HTTP 5xx,
      a body that is not Angel's JSON, a 2xx
      failure without a code, status true without
      an order id
    any other errorcode with status false, or a     OrderRejected      BrokerUnavailable
      JSON 4xx (AB1012 product, AB4008 ordertag, ...)

Why the "something went wrong" codes are Ambiguous for an order: they come from behind the
gateway, where the order may already be with the exchange; the executor then looks the
ordertag up (DESIGN §4) and resends only when it is proven absent. Transport failures (no
HTTP answer at all) are classified by brokers/common/http.py.
"""

from __future__ import annotations

from typing import Final

from brokers.common.http import retry_after_s
from brokers.errors import (
    Ambiguous,
    BrokerError,
    BrokerUnavailable,
    OrderRejected,
    RateLimited,
    TokenExpired,
)

TOKEN_CODES: Final = frozenset({"AG8001", "AG8002", "AG8003", "AB8050", "AB8051", "AB1010",
                                "AB1011", "AB1050"})
"""The session (or the login itself) is no good: the user's credentials must be fixed or
a new login made."""
UNCERTAIN_CODES: Final = frozenset({"AB1004", "AB2001", "AB1007"})
"""Failures behind the gateway: an order may or may not have been taken."""
RATE_TEXT: Final = "exceeding access rate"


def error_for(status_code: int, code: str, message: str, *, order: bool, json_body: bool,
              retry_after: str | None = None) -> BrokerError:
    """The broker error for one failed Angel answer (`order`: it was a placement;
    `json_body`: the answer was Angel's JSON envelope)."""
    response = {"http_status": status_code, "errorcode": code, "message": message}
    text = f"Angel One {status_code} {code or 'error'}: {message}"
    if status_code == 429 or RATE_TEXT in message.lower():
        return RateLimited(text, retry_after_s=retry_after_s(retry_after), response=response)
    if code in TOKEN_CODES or status_code in (401, 403):
        return TokenExpired(text, response=response)
    if not order:
        return BrokerUnavailable(text, response=response)
    if (status_code >= 500 or not json_body or code in UNCERTAIN_CODES
            or (not code and status_code < 400)):
        return Ambiguous(text, response=response)
    return OrderRejected(text, response=response)

