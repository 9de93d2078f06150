"""Kite orders and positions as the broker interface reports them, and our client tag.

Kite statuses (zerodha/kiteconnect-mocks orders.json, order_info.json): COMPLETE,
REJECTED and CANCELLED are final; every other one (PUT ORDER REQ RECEIVED, VALIDATION
PENDING, OPEN PENDING, OPEN, TRIGGER PENDING, MODIFY ..., CANCEL PENDING, AMO REQ
RECEIVED, ...) means the order is alive, which we call OPEN.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from brokers.base import BrokerOrder, BrokerOrderStatus, BrokerPosition
from brokers.zerodha import wire

TAG_MAX: Final = 20
"""Kite `tag`: alphanumeric, at most 20 characters (Kite docs, orders; confirmed by
Zerodha on kite.trade forum comment 52970: a longer tag rejects the order)."""
_FINAL: Final = {"COMPLETE": BrokerOrderStatus.COMPLETE,
                 "REJECTED": BrokerOrderStatus.REJECTED,
                 "CANCELLED": BrokerOrderStatus.CANCELLED}
_NOT_ALNUM: Final = re.compile(r"[^0-9A-Za-z]")


def tag_for(order_id: str) -> str:
    """Our order id as a Kite tag: its last 20 alphanumeric characters.

    An `ord_` id is a ULID (48 bits of milliseconds then 80 random bits in Crockford
    base32); its last 20 characters keep all 80 random bits and the low 20 bits of the
    time, so tags stay unique in an account's order book, and the tag an operator sees in
    Kite is the tail of our order id.
    """
    return _NOT_ALNUM.sub("", order_id)[-TAG_MAX:]


def status_of(kite_status: str) -> BrokerOrderStatus:
    """Our normalised status for a Kite order status."""
    return _FINAL.get(kite_status.upper(), BrokerOrderStatus.OPEN)


def to_broker_order(order: wire.Order) -> BrokerOrder:
    """A Kite order (its latest state) as a BrokerOrder."""
    filled = order.filled_quantity
    return BrokerOrder(
        broker_order_id=order.order_id, client_tag=order.tag, status=status_of(order.status),
        filled_quantity=filled,
        average_price=order.average_price if filled and order.average_price else None,
        message=order.status_message,
        raw={"status": order.status, "exchange": order.exchange,
             "tradingsymbol": order.tradingsymbol, "transaction_type": order.transaction_type,
             "quantity": order.quantity, "product": order.product, "variety": order.variety,
             "exchange_order_id": order.exchange_order_id,
             "order_timestamp": order.order_timestamp,
             "exchange_timestamp": order.exchange_timestamp})


def to_position(position: wire.Position) -> BrokerPosition:
    """A Kite net position as a BrokerPosition."""
    return BrokerPosition(exchange=position.exchange, symbol=position.tradingsymbol,
                          quantity=position.quantity, buy_value=position.buy_value,
                          sell_value=position.sell_value)


def rupees_to_paise(price: Decimal) -> int:
    """A rupee price from Kite's JSON in integer paise (half up below a paisa)."""
    return int((price * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
