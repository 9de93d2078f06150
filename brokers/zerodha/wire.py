"""Kite Connect v3 JSON bodies, as typed msgspec Structs (unknown fields are ignored).

Shapes follow Zerodha's published mock responses (zerodha/kiteconnect-mocks:
generate_session.json, profile.json, orders.json, order_info.json, positions.json,
ltp.json) and the SDK's handling of them (zerodha/pykiteconnect kiteconnect/connect.py
`_request`: `{"status": "success", "data": ...}` or `{"status": "error", "error_type",
"message", "data": null}`). Prices are JSON numbers in rupees, decoded straight to Decimal.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class Envelope(msgspec.Struct, frozen=True):
    """Every JSON answer; `data` is decoded later into the endpoint's own type."""

    status: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")
    error_type: str | None = None
    message: str | None = None


class Session(msgspec.Struct, frozen=True):
    """`POST /session/token` data (the fields we keep)."""

    user_id: str
    access_token: str
    api_key: str = ""
    user_name: str | None = None
    public_token: str | None = None
    refresh_token: str | None = None
    login_time: str | None = None
    """"YYYY-MM-DD HH:MM:SS" in IST."""


class Profile(msgspec.Struct, frozen=True):
    """`GET /user/profile` data."""

    user_id: str
    user_name: str | None = None
    broker: str | None = None


class PlacedOrder(msgspec.Struct, frozen=True):
    """`POST /orders/{variety}` data."""

    order_id: str


class Order(msgspec.Struct, frozen=True):
    """One entry of `GET /orders` or of `GET /orders/{order_id}` (its history)."""

    order_id: str
    status: str
    exchange: str = ""
    tradingsymbol: str = ""
    transaction_type: str = ""
    quantity: int = 0
    filled_quantity: int = 0
    pending_quantity: int = 0
    average_price: Decimal = Decimal(0)
    product: str | None = None
    order_type: str | None = None
    variety: str | None = None
    tag: str | None = None
    status_message: str | None = None
    exchange_order_id: str | None = None
    order_timestamp: str | None = None
    exchange_timestamp: str | None = None


class Position(msgspec.Struct, frozen=True):
    """One entry of `GET /portfolio/positions` `net` or `day`."""

    tradingsymbol: str
    exchange: str
    quantity: int
    product: str | None = None
    instrument_token: int | None = None
    average_price: Decimal = Decimal(0)
    buy_value: Decimal = Decimal(0)
    sell_value: Decimal = Decimal(0)


class Positions(msgspec.Struct, frozen=True):
    """`GET /portfolio/positions` data."""

    net: list[Position] = []
    day: list[Position] = []


class Ltp(msgspec.Struct, frozen=True):
    """One value of `GET /quote/ltp` data, keyed by "EXCHANGE:SYMBOL"."""

    instrument_token: int
    last_price: Decimal
