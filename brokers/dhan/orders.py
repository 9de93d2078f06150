"""Dhan orders and positions as the broker interface reports them, and our client tag.

Order statuses (docs v2, Annexure "Order Status"): TRANSIT (not yet at the exchange),
PENDING, PART_TRADED, TRADED, REJECTED, CANCELLED, EXPIRED, and CLOSED / TRIGGERED for super
orders. TRADED is a fill; REJECTED is final; CANCELLED and EXPIRED end an order without
(more) fills; every other status is alive, which we call OPEN.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from brokers.base import BrokerOrder, BrokerOrderStatus, BrokerPosition
from brokers.dhan import wire

TAG_MAX: Final = 30
"""`correlationId`: at most 30 characters of [a-zA-Z0-9 _-] (Dhan docs v2, Orders, as
quoted by several independent Dhan clients; the SDK passes `tag` through unchecked:
dhan-oss/DhanHQ-py src/dhanhq/_order.py `place_order`)."""
_NOT_ALLOWED: Final = re.compile(r"[^0-9A-Za-z _-]")
_STATUS: Final = {"TRADED": BrokerOrderStatus.COMPLETE,
                  "REJECTED": BrokerOrderStatus.REJECTED,
                  "CANCELLED": BrokerOrderStatus.CANCELLED,
                  "EXPIRED": BrokerOrderStatus.CANCELLED}
PRODUCTS: Final = {"MIS": "INTRADAY", "CNC": "CNC", "NRML": "MARGIN", "INTRADAY": "INTRADAY",
                   "MARGIN": "MARGIN"}
"""Our product names (Kite's, as the executor sends them) → Dhan `productType`."""


def tag_for(order_id: str) -> str:
    """Our order id as a Dhan correlationId: the whole id when it fits (an `ord_` id is 30
    characters of [0-9A-Z_]), else its last 30 allowed characters (the ULID's random tail)."""
    return _NOT_ALLOWED.sub("", order_id)[-TAG_MAX:]


def status_of(dhan_status: str) -> BrokerOrderStatus:
    """Our normalised status for a Dhan order status."""
    return _STATUS.get(dhan_status.upper(), BrokerOrderStatus.OPEN)


def to_broker_order(order: wire.Order, exchange: str | None = None) -> BrokerOrder:
    """A Dhan order as a BrokerOrder (`exchange`: ours, when the caller knows it)."""
    filled = order.filled_qty
    average = order.average_traded_price
    return BrokerOrder(
        broker_order_id=order.order_id, client_tag=order.correlation_id or None,
        status=status_of(order.order_status), filled_quantity=filled,
        average_price=average if filled and average else None,
        message=order.oms_error_description or None,
        raw={"status": order.order_status, "exchange": exchange,
             "exchange_segment": order.exchange_segment,
             "tradingsymbol": order.trading_symbol, "security_id": order.security_id,
             "transaction_type": order.transaction_type, "quantity": order.quantity,
             "product": order.product_type, "exchange_order_id": order.exchange_order_id,
             "oms_error_code": order.oms_error_code, "order_timestamp": order.create_time,
             "exchange_timestamp": order.exchange_time})


def to_position(position: wire.Position, exchange: str, symbol: str) -> BrokerPosition:
    """A Dhan position as a BrokerPosition (day and carried-forward values together)."""
    return BrokerPosition(
        exchange=exchange, symbol=symbol, quantity=position.net_qty,
        buy_value=position.day_buy_value + position.carry_forward_buy_value,
        sell_value=position.day_sell_value + position.carry_forward_sell_value)


def rupees_to_paise(price: Decimal) -> int:
    """A rupee price from Dhan's JSON in integer paise (half up below a paisa)."""
    return int((price * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
