"""Angel orders and positions as the broker interface reports them, and our client tag.

Order statuses (SmartAPI docs, "Orders": order book `status` / `orderstatus`, lowercase):
complete, rejected and cancelled are final; every other one (open, open pending, trigger
pending, modified, modify pending, after market order req received, validation pending,
...) means the order is alive, which we call OPEN. The rejection reason is in `text`.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from brokers.angel_one import wire
from brokers.base import BrokerOrder, BrokerOrderStatus, BrokerPosition

TAG_MAX: Final = 15
"""Angel `ordertag` length we send. Angel announced that from 15 Nov 2024 the tag may hold
up to 20 characters, a longer one being rejected with AB4008 (SmartAPI forum topic 4859),
but a later moderator answer (topic 4860) still says 15; 15 fits both. Angel documents no
charset, so the tag is kept alphanumeric."""
_FINAL: Final = {"complete": BrokerOrderStatus.COMPLETE,
                 "rejected": BrokerOrderStatus.REJECTED,
                 "cancelled": BrokerOrderStatus.CANCELLED}
_NOT_ALNUM: Final = re.compile(r"[^0-9A-Za-z]")


def tag_for(order_id: str) -> str:
    """Our order id as an Angel ordertag: its last 15 alphanumeric characters.

    An `ord_` id is a ULID whose last 16 characters are 80 random bits (Crockford
    base32); the last 15 keep 75 of them, so tags stay unique in an account's order book
    and the tag an operator sees at Angel is the tail of our order id.
    """
    return _NOT_ALNUM.sub("", order_id)[-TAG_MAX:]


def status_of(order: wire.Order) -> BrokerOrderStatus:
    """Our normalised status for an Angel order."""
    raw = (order.orderstatus or order.status).strip().lower()
    return _FINAL.get(raw, BrokerOrderStatus.OPEN)


def to_broker_order(order: wire.Order) -> BrokerOrder:
    """An Angel order (its latest state) as a BrokerOrder."""
    filled = wire.integer(order.filledshares)
    average = wire.decimal(order.averageprice)
    status = status_of(order)
    return BrokerOrder(
        broker_order_id=order.orderid, client_tag=order.ordertag or None, status=status,
        filled_quantity=filled, average_price=average if filled and average else None,
        message=order.text or None,
        raw={"status": order.orderstatus or order.status, "exchange": order.exchange,
             "tradingsymbol": order.tradingsymbol, "transactiontype": order.transactiontype,
             "quantity": wire.integer(order.quantity), "producttype": order.producttype,
             "variety": order.variety, "uniqueorderid": order.uniqueorderid,
             "exchangeorderid": order.exchangeorderid, "updatetime": order.updatetime})


def to_position(position: wire.Position, symbol: str) -> BrokerPosition:
    """An Angel position as a BrokerPosition (`symbol`: our name of its instrument)."""
    return BrokerPosition(exchange=position.exchange, symbol=symbol,
                          quantity=wire.integer(position.netqty),
                          buy_value=wire.decimal(position.buyamount),
                          sell_value=wire.decimal(position.sellamount))


def rupees_to_paise(price: Decimal) -> int:
    """A rupee price in integer paise (half up below a paisa)."""
    return int((price * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
