"""The paper book's rules: which requests the exchange refuses outright, and how a booked
order reads as a BrokerOrder."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from brokers.base import BrokerOrder, BrokerOrderStatus, OrderRequest, Side
from core.db.models import PaperOrder

_FIELD_LIMITS: Final = {"client_tag": 32, "exchange": 8, "symbol": 64, "product": 8}
"""Column widths of `paper_orders`: longer values are refused rather than failing the insert."""


def invalid_request(request: OrderRequest) -> str | None:
    """Why the exchange refuses the request outright, or None."""
    if request.order_type != "MARKET":
        return f"only MARKET orders are accepted, not {request.order_type!r}"
    if request.quantity <= 0:
        return f"quantity must be positive, not {request.quantity}"
    if request.side not in (Side.BUY, Side.SELL):
        return f"side must be BUY or SELL, not {request.side!r}"
    if not request.exchange or not request.symbol:
        return "exchange and symbol are required"
    for name, limit in _FIELD_LIMITS.items():
        if len(getattr(request, name)) > limit:
            return f"{name} is longer than {limit} characters"
    return None


def no_price(exchange: str, symbol: str) -> str:
    """Why an order without a market price is rejected."""
    return f"no market price for {exchange}:{symbol}"


def to_broker_order(row: PaperOrder) -> BrokerOrder:
    """A booked order as the broker interface reports it (`raw` keeps the book's times)."""
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return BrokerOrder(
        broker_order_id=row.id, client_tag=row.client_tag,
        status=BrokerOrderStatus(row.status), filled_quantity=row.filled_quantity,
        average_price=row.average_price, message=row.status_message,
        raw={"account": row.account, "exchange": row.exchange, "symbol": row.symbol,
             "side": row.side, "quantity": row.quantity, "product": row.product,
             "order_type": row.order_type, "created_at": iso(row.created_at),
             "fill_at": iso(row.fill_at), "filled_at": iso(row.filled_at)})
