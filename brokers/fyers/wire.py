"""Fyers API v3 JSON bodies, as typed msgspec Structs (unknown fields are ignored).

Every answer is a flat object `{"s": "ok" | "error", "code": int, "message": str, ...}`
with the payload under an endpoint's own key (orderBook, netPositions, d, data, id).
Shapes follow the Fyers API v3 docs' samples (as copied in satyajitghana/hagrid-ai
broker/fyers/API_DOCS.md @02b0577: Orders, Positions, Quotes, Profile, Single Order) and
PROTOCOLS.md §3.3-3.4; the SDK (fyers-apiv3 3.2.0 fyersModel.py) returns the JSON as is,
so these names are what its users read too. Prices are JSON numbers in rupees.
Fyers names fields in camelCase (`filledQty`); the Structs use snake_case renamed.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class Envelope(msgspec.Struct, frozen=True):
    """The status part every answer has."""

    s: str | None = None
    code: int | None = None
    message: str | None = None


class TokenAnswer(msgspec.Struct, frozen=True):
    """`POST /api/v3/validate-authcode` (and validate-refresh-token)."""

    access_token: str
    refresh_token: str | None = None


class ProfileData(msgspec.Struct, frozen=True):
    """`GET /api/v3/profile` data."""

    fy_id: str
    name: str | None = None
    display_name: str | None = None


class Profile(msgspec.Struct, frozen=True):
    """`GET /api/v3/profile`."""

    data: ProfileData


class PlacedOrder(msgspec.Struct, frozen=True):
    """`POST /api/v3/orders/sync`: code 1101 and the new order's `id`."""

    id: str = ""
    code: int | None = None
    message: str | None = None


class Order(msgspec.Struct, frozen=True, rename="camel"):
    """One entry of `GET /api/v3/orders` `orderBook`."""

    id: str
    status: int
    symbol: str = ""
    side: int = 0
    qty: int = 0
    filled_qty: int = 0
    remaining_quantity: int = 0
    traded_price: Decimal = Decimal(0)
    type: int = 0
    product_type: str | None = None
    order_tag: str | None = None
    message: str | None = None
    exch_ord_id: str | None = None
    order_date_time: str | None = None
    fy_token: str | None = None


class OrderBook(msgspec.Struct, frozen=True, rename="camel"):
    """`GET /api/v3/orders`."""

    order_book: list[Order] = []


class Position(msgspec.Struct, frozen=True, rename="camel"):
    """One entry of `GET /api/v3/positions` `netPositions`."""

    symbol: str
    net_qty: int = 0
    buy_val: Decimal = Decimal(0)
    sell_val: Decimal = Decimal(0)
    product_type: str | None = None
    fy_token: str | None = None


class Positions(msgspec.Struct, frozen=True, rename="camel"):
    """`GET /api/v3/positions`."""

    net_positions: list[Position] = []


class QuoteValues(msgspec.Struct, frozen=True, rename="camel"):
    """`v` of one quote; `lp` is the last traded price (absent for a bad symbol)."""

    lp: Decimal | None = None
    fy_token: str | None = None
    errmsg: str | None = None


class Quote(msgspec.Struct, frozen=True):
    """One entry of `GET /data/quotes` `d`."""

    n: str
    s: str = "ok"
    v: QuoteValues = QuoteValues()


class Quotes(msgspec.Struct, frozen=True):
    """`GET /data/quotes?symbols=..`."""

    d: list[Quote] = []
