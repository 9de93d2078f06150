"""Fyers' error model mapped onto brokers.errors.

Fyers answers a failure with an HTTP 4xx/5xx and the JSON body `{"s": "error", "code":
<negative int>, "message": "..."}` (Fyers API v3 docs, "Request & Response Structure",
"HTTP Status Codes", "Common API Error Codes"; copied in satyajitghana/hagrid-ai
broker/fyers/API_DOCS.md @02b0577). The SDK hands that JSON back to its caller whatever
the status (fyers-apiv3 3.2.0 fyersModel.py `FyersServiceSync.post_call`: on HTTPError it
returns `response.json()`).

    Fyers says                                     order placement     any other call
    code -8/-15/-16/-17 (token expired/invalid)    TokenExpired        TokenExpired
      or HTTP 401; at login -371 (bad appIdHash)
      and -374 (bad auth code)
    HTTP 429 or code -429 (rate limit)             RateLimited         RateLimited
    s "ok" but code 201 ("sent, no exchange ack")  Ambiguous           -
    s "error" with any other code, or any other    OrderRejected       BrokerUnavailable
      HTTP 4xx (-50 bad input, -99 rejected, -300
      symbol, -352 app id, 403 permission ...)
    HTTP 5xx, or a 2xx that is not Fyers' JSON     Ambiguous           BrokerUnavailable

Why 5xx is Ambiguous for an order: nothing proves the order did not reach the exchange
(the docs say so for code 201 explicitly: "check orderbook before placing order"), so the
executor looks the tag up (DESIGN §4). A 429 is refused before the order is taken.
Transport failures (no HTTP answer at all) are classified by brokers/common/http.py.
"""

from __future__ import annotations

from typing import Final

from brokers.errors import (
    Ambiguous,
    BrokerError,
    BrokerUnavailable,
    OrderRejected,
    RateLimited,
    TokenExpired,
)

TOKEN_CODES: Final = frozenset({-8, -15, -16, -17})
"""Expired, invalid, unauthenticatable, or invalid-or-expired token."""
LOGIN_CODES: Final = frozenset({-371, -374})
"""A login refused: bad appIdHash, bad auth code (FyersDev/fyers-api-sample-code, Postman
"API Error Codes and Messages" CSV, 2021: an API v2 list, UNVERIFIED for v3)."""
RATE_CODE: Final = -429
NO_ACK_CODE: Final = 201
"""An order sent to the exchange without an acknowledgement (Single Order docs)."""


def error_for(status_code: int, code: int | None, message: str, *, order: bool,
              retry_after: str | None = None) -> BrokerError:
    """The broker error for one failed Fyers answer (`order`: it was a placement)."""
    response = {"http_status": status_code, "code": code, "message": message}
    text = f"Fyers {status_code} code {code}: {message}"
    if code in TOKEN_CODES or code in LOGIN_CODES or status_code == 401:
        return TokenExpired(text, response=response)
    if status_code == 429 or code == RATE_CODE:
        return RateLimited(text, retry_after_s=_seconds(retry_after), response=response)
    if not order:
        return BrokerUnavailable(text, response=response)
    if code == NO_ACK_CODE or status_code >= 500 or (code is None and status_code < 400):
        return Ambiguous(text, response=response)
    return OrderRejected(text, response=response)


def _seconds(retry_after: str | None) -> float:
    try:
        return max(0.1, float(retry_after)) if retry_after else 1.0
    except ValueError:
        return 1.0
