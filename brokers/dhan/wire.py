"""Dhan API v2 JSON bodies as typed msgspec Structs (unknown fields are ignored).

Dhan's Trading APIs answer without an envelope: the body is the object or array itself
(the SDK wraps it as `{"status", "remarks", "data"}` on its own side: dhan-oss/DhanHQ-py
src/dhanhq/dhan_http.py `_parse_response`, @1670f81). Field names follow the SDK's recorded
answers in tests/data (place_order.json, get-current-orders-list.json, get-order-by-id.json,
get_positions.json) and the v2 docs; they are camelCase on the wire (`rename="camel"`).
Prices are JSON numbers in rupees, decoded to Decimal.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class Failure(msgspec.Struct, frozen=True, rename="camel"):
    """A Trading API error body."""

    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class OrderBody(msgspec.Struct, frozen=True, rename="camel"):
    """`POST /orders` for an intraday MARKET order (docs v2, Orders; the SDK's body)."""

    dhan_client_id: str
    correlation_id: str
    transaction_type: str
    exchange_segment: str
    product_type: str
    security_id: str
    quantity: int
    order_type: str = "MARKET"
    validity: str = "DAY"
    price: float = 0.0
    trigger_price: float = 0.0
    disclosed_quantity: int = 0
    after_market_order: bool = False


class PlacedOrder(msgspec.Struct, frozen=True, rename="camel"):
    """`POST /orders` answer: `{"orderId": "112111182198", "orderStatus": "PENDING"}`."""

    order_id: str
    order_status: str | None = None


class Order(msgspec.Struct, frozen=True, rename="camel"):
    """One order of `GET /orders`, `GET /orders/{id}`, `GET /orders/external/{tag}`."""

    order_id: str
    order_status: str
    correlation_id: str | None = None
    exchange_order_id: str | None = None
    transaction_type: str = ""
    exchange_segment: str = ""
    product_type: str | None = None
    order_type: str | None = None
    trading_symbol: str = ""
    security_id: str = ""
    quantity: int = 0
    filled_qty: int = 0
    remaining_quantity: int = 0
    average_traded_price: Decimal = Decimal(0)
    oms_error_code: str | None = None
    oms_error_description: str | None = None
    create_time: str | None = None
    update_time: str | None = None
    exchange_time: str | None = None


class Position(msgspec.Struct, frozen=True, rename="camel"):
    """One entry of `GET /positions`."""

    trading_symbol: str
    security_id: str
    exchange_segment: str
    net_qty: int
    product_type: str | None = None
    position_type: str | None = None
    day_buy_value: Decimal = Decimal(0)
    day_sell_value: Decimal = Decimal(0)
    carry_forward_buy_value: Decimal = Decimal(0)
    carry_forward_sell_value: Decimal = Decimal(0)


class LastPrice(msgspec.Struct, frozen=True):
    """One instrument of `POST /marketfeed/ltp` data (snake_case on the wire)."""

    last_price: Decimal


class LtpAnswer(msgspec.Struct, frozen=True):
    """`POST /marketfeed/ltp`: `{"data": {"NSE_EQ": {"2885": {"last_price": 4520}}},
    "status": "success"}` (a Data API: this one is enveloped)."""

    data: dict[str, dict[str, LastPrice]] = {}
    status: str | None = None


class Profile(msgspec.Struct, frozen=True, rename="camel"):
    """`GET /profile`."""

    dhan_client_id: str
    token_validity: str | None = None
    """"dd/MM/yyyy HH:mm" in IST."""
    active_segment: str | None = None
    data_plan: str | None = None


class Session(msgspec.Struct, frozen=True, rename="camel"):
    """A new token from the auth server (PIN + TOTP, or a consumed consent)."""

    dhan_client_id: str
    access_token: str
    expiry_time: str | None = None
    """ISO local time in IST, e.g. "2025-09-23T12:37:23"."""
    dhan_client_name: str | None = None
    dhan_client_ucc: str | None = None


class Consent(msgspec.Struct, frozen=True, rename="camel"):
    """`POST /app/generate-consent`."""

    consent_app_id: str
    consent_app_status: str | None = None
    status: str | None = None
