"""Dhan's error model mapped onto brokers.errors.

Dhan answers a failed Trading API call with an HTTP 4xx/5xx and the JSON body
`{"errorType": "...", "errorCode": "DH-9xx", "errorMessage": "..."}`; the SDK only copies
the three fields into `remarks` for any status outside 2xx (dhan-oss/DhanHQ-py
src/dhanhq/dhan_http.py `_parse_response`, @1670f81). The codes are Dhan's (docs v2,
Annexure "Trading API Error"); the Data APIs (marketfeed) use bare numbers 800..814
instead, e.g. `{"data": {"807": "Access token is expired"}, "status": "failed"}`.

    Dhan says                                    order placement    any other call
    DH-901 (token/client id invalid or expired)  TokenExpired       TokenExpired
    DH-906 "Invalid Token" (a session another    TokenExpired       TokenExpired
      login invalidated), HTTP 401, data 807-810
    DH-904 (rate limit), HTTP 429, data 805      RateLimited        RateLimited
    DH-902/903/905/906 (access, account, input,  OrderRejected      BrokerUnavailable
      order/RMS), or no code with HTTP 4xx
    DH-908/909/910 (internal, network, other),   Ambiguous          BrokerUnavailable
      other 5xx, or a body that is not Dhan's

DH-906 is Dhan's order error, but several independent clients record live Dhan answering
a dead session with `400 {"errorType": "Order_Error", "errorCode": "DH-906",
"errorMessage": "Invalid Token"}` (the HTTP status of each code is not documented): that
order was refused for the session, so it is TokenExpired, never a final rejection of the
order itself. DH-910 "other" stays Ambiguous: nothing proves the order was not taken, and a
lookup by correlationId settles it. Transport failures are brokers/common/http.py's.
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

TOKEN_CODES: Final = frozenset({"DH-901", "807", "808", "809", "810"})
RATE_CODES: Final = frozenset({"DH-904", "805"})
REFUSALS: Final = frozenset({"DH-902", "DH-903", "DH-905", "DH-906"})
"""Dhan looked at the order and said no: final."""
DOUBTFUL: Final = frozenset({"DH-908", "DH-909", "DH-910", "800"})
"""Dhan failed inside: the order may exist."""


def is_dead_session(status_code: int, code: str | None, message: str) -> bool:
    """True when the answer says the access token no longer works."""
    return (status_code == 401 or code in TOKEN_CODES
            or (code == "DH-906" and "invalid token" in message.lower()))


def error_for(status_code: int, code: str | None, error_type: str | None, message: str, *,
              order: bool, retry_after: str | None = None) -> BrokerError:
    """The broker error for one failed Dhan answer (`order`: it was a placement)."""
    response = {"http_status": status_code, "error_code": code, "error_type": error_type,
                "message": message}
    text = f"Dhan {status_code} {code or error_type or 'error'}: {message}"
    if is_dead_session(status_code, code, message):
        return TokenExpired(text, response=response)
    if status_code == 429 or code in RATE_CODES:
        return RateLimited(text, retry_after_s=retry_after_s(retry_after), response=response)
    if not order:
        return BrokerUnavailable(text, response=response)
    if code in REFUSALS or (code not in DOUBTFUL and 400 <= status_code < 500):
        return OrderRejected(text, response=response)
    return Ambiguous(text, response=response)

