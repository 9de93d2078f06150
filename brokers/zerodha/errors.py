"""Kite's error model mapped onto brokers.errors.

Kite answers a failure with HTTP 4xx/5xx and the JSON body
`{"status": "error", "error_type": "<Name>Exception", "message": "...", "data": null}`;
the SDK raises the exception class named by `error_type`, GeneralException when unknown
(zerodha/pykiteconnect kiteconnect/connect.py `_request`, kiteconnect/exceptions.py:
TokenException 403, PermissionException 403, InputException 400, OrderException 500,
DataException 502, NetworkException 503, GeneralException 500 by default).

    Kite says                                   order placement     any other call
    error_type TokenException (403)             TokenExpired        TokenExpired
    HTTP 429 (rate limit)                       RateLimited         RateLimited
    Input/Order/Margin/Holding/User/Permission  OrderRejected       BrokerUnavailable
      Exception, whatever the HTTP status
    other or no error_type, HTTP 4xx            OrderRejected       BrokerUnavailable
    Network/Data/GeneralException, other 5xx,   Ambiguous           BrokerUnavailable
      or a body that is not Kite's JSON

Why 5xx is Ambiguous for an order: NetworkException and DataException mean Kite could not
talk to, or understand, its order management system, and a gateway 502/503/504 comes from
in front of Kite; in none of them can we prove the order did not reach the exchange, so
the executor looks the tag up (DESIGN §4). A 429 is refused before the order is taken.
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

REFUSALS: Final = frozenset({"InputException", "OrderException", "MarginException",
                             "HoldingException", "UserException", "PermissionException"})
"""Kite looked at the request and said no: an order with these is final."""
TOKEN_ERROR: Final = "TokenException"  # noqa: S105 (an error name, not a secret)


def error_for(status_code: int, error_type: str | None, message: str, *, order: bool,
              retry_after: str | None = None) -> BrokerError:
    """The broker error for one failed Kite answer (`order`: it was a placement)."""
    response = {"http_status": status_code, "error_type": error_type, "message": message}
    text = f"Kite {status_code} {error_type or 'error'}: {message}"
    if error_type == TOKEN_ERROR:
        return TokenExpired(text, response=response)
    if status_code == 429:
        return RateLimited(text, retry_after_s=_seconds(retry_after), response=response)
    if not order:
        return BrokerUnavailable(text, response=response)
    if error_type in REFUSALS or 400 <= status_code < 500:
        return OrderRejected(text, response=response)
    return Ambiguous(text, response=response)


def _seconds(retry_after: str | None) -> float:
    try:
        return max(0.1, float(retry_after)) if retry_after else 1.0
    except ValueError:
        return 1.0
