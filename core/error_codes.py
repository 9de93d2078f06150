"""The one catalog of error codes (DESIGN §6); `algo errors` renders it to docs/errors.md.

Families: AUTH_ (authentication, authorisation), BRK_ (brokers), STR_ (strategies),
MKT_ (market data), EXE_ (execution), VAL_ (input validation), SYS_ (the platform itself).
Later features add their codes here, never inline at the raise site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One catalogued error: its code, HTTP status and the default message."""

    code: str
    status: int
    message: str


CATALOG: Final[dict[str, ErrorCode]] = {}


def _define(code: str, status: int, message: str) -> ErrorCode:
    if code in CATALOG:
        raise ValueError(f"duplicate error code {code}")
    entry = ErrorCode(code, status, message)
    CATALOG[code] = entry
    return entry


# SYS: the platform
SYS_INTERNAL = _define("SYS_001", 500, "Internal server error")
SYS_NOT_FOUND = _define("SYS_002", 404, "Resource not found")
SYS_METHOD_NOT_ALLOWED = _define("SYS_003", 405, "Method not allowed")
SYS_UNAVAILABLE = _define("SYS_004", 503, "A required service is unavailable")
SYS_RATE_LIMITED = _define("SYS_005", 429, "Too many requests")
SYS_HALTED = _define("SYS_006", 503, "Trading is halted")
SYS_CONFLICT = _define("SYS_007", 409, "Not allowed in the current state")
SYS_CALENDAR_NOT_COVERED = _define("SYS_008", 409, "The trading calendar does not cover this date")
SYS_HTTPS_REQUIRED = _define("SYS_009", 403, "HTTPS is required")

# VAL: request validation
VAL_INVALID = _define("VAL_001", 422, "Request validation failed")
VAL_MALFORMED = _define("VAL_002", 400, "Malformed request body")
VAL_BAD_QUERY = _define("VAL_003", 422, "Invalid query parameters")
VAL_TOO_LARGE = _define("VAL_004", 413, "Request body too large")

# AUTH: authentication and authorisation
AUTH_REQUIRED = _define("AUTH_001", 401, "Authentication required")
AUTH_FORBIDDEN = _define("AUTH_002", 403, "Not permitted")
AUTH_BAD_CREDENTIALS = _define("AUTH_003", 401, "Invalid e-mail or password")
AUTH_TOKEN_EXPIRED = _define("AUTH_004", 401, "Token expired")
AUTH_TOKEN_INVALID = _define("AUTH_005", 401, "Token invalid")
AUTH_TOKEN_REVOKED = _define("AUTH_006", 401, "Token revoked")
AUTH_EMAIL_TAKEN = _define("AUTH_007", 409, "E-mail already registered")
AUTH_ACCOUNT_DISABLED = _define("AUTH_008", 401, "Account disabled")
AUTH_RESET_INVALID = _define("AUTH_009", 400, "Reset token invalid or expired")
AUTH_REFRESH_REUSED = _define("AUTH_010", 401, "Refresh token reused; its session is revoked")
AUTH_TICKET_INVALID = _define("AUTH_011", 401, "Stream ticket invalid, used or expired")
AUTH_LAST_ADMIN = _define("AUTH_012", 409, "The last active admin cannot be removed or demoted")


# STR: strategies
STR_UNKNOWN_SYMBOL = _define("STR_001", 422, "Unknown symbol")
STR_TIME_ORDER = _define("STR_002", 422, "buy_time must be before sell_time")
STR_OUTSIDE_MARKET = _define("STR_003", 422, "Times must lie within 09:15-15:30 IST")
STR_BAD_STOP_LOSS = _define("STR_004", 422, "Stop-loss is missing or not sane")
STR_QUANTITY = _define("STR_005", 422, "Quantity must be positive and within the cap")
STR_BROKER = _define("STR_006", 422, "Choose a broker connection of yours, or paper")
STR_BAD_TARGET = _define("STR_007", 422, "Target price must be above the entry reference")
STR_BAD_TRAILING = _define("STR_008", 422, "Trailing stop-loss percent out of range")
STR_ILLEGAL_TRANSITION = _define("STR_009", 409, "Not allowed in the strategy's current status")
STR_LOCKED_WHILE_RUNNING = _define("STR_010", 409, "Field cannot change while running")
STR_SYMBOL_FORMAT = _define("STR_011", 422, "Symbol must look like EXCHANGE:SYMBOL")
STR_UNKNOWN_SYMBOL_404 = _define("STR_012", 404, "No such instrument")
STR_NO_POSITION = _define("STR_013", 409, "The strategy holds no open position")

# BRK: broker connections (core/connections/)
BRK_UNSUPPORTED = _define("BRK_001", 422, "No connector for this broker type")
BRK_MISSING_FIELDS = _define("BRK_002", 422, "Broker credential fields are missing")
BRK_REJECTED = _define("BRK_003", 422, "The broker rejected these credentials")
BRK_UNREACHABLE = _define("BRK_004", 503, "The broker could not be reached")
BRK_IN_USE = _define("BRK_005", 409, "The connection is used by running strategies or an "
                                     "open position")
BRK_LOGIN_LINK = _define("BRK_006", 400, "Broker login link invalid, used or expired")
BRK_ACCOUNT_TAKEN = _define("BRK_007", 409, "This broker account is already connected")
BRK_NOT_FOUND = _define("BRK_008", 404, "Broker connection not found")
BRK_LOGIN_FAILED = _define("BRK_009", 422, "The broker login was not completed")
BRK_OTHER_ACCOUNT = _define("BRK_010", 409, "This login is for another broker account than "
                                            "the connection's")
BRK_FEED_ACCOUNT = _define("BRK_011", 409, "The connection streams the platform's market data "
                                           "(ALGO_FEED_BROKER_CREDENTIAL)")
BRK_UNFINISHED_ORDERS = _define("BRK_012", 409, "An order on the connection is still being "
                                                "settled with the broker")

# MKT: market data
MKT_NO_PRICE = _define("MKT_001", 404, "No price for this instrument yet")


def catalog_markdown() -> str:
    """The catalog as a Markdown table, for docs/errors.md."""
    lines = [
        "# Error codes",
        "",
        "Every error response is `{\"error_code\", \"message\", \"details\", \"trace_id\"}`.",
        "Generated from `core/error_codes.py` by `algo errors`; do not edit by hand.",
        "",
        "| code | HTTP status | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{e.code}` | {e.status} | {e.message} |" for e in sorted(CATALOG.values(),
                                                                          key=lambda e: e.code)]
    return "\n".join(lines) + "\n"
