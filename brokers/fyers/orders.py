"""Fyers orders and positions as the broker interface reports them, and our client tag.

Order `status` (Fyers API v3 docs, Orders): 1 cancelled, 2 traded, 4 transit, 5 rejected,
6 pending, 7 expired; 3 is unused. 2, 1, 5 and 7 are final; an expired order filled
nothing and reads CANCELLED. `side` is 1 buy, -1 sell.

`orderTag` (docs, "Order Tag"): 1 to 30 characters, alphanumeric only, never the client
id or "Untagged", not allowed on CO/BO. The order book echoes it as "1:<tag>" ("2:..." for
one Fyers made up; "2:Untagged" when none was given), and `GET /orders?order_tag=1:<tag>`
filters by it.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from brokers.base import BrokerOrder, BrokerOrderStatus, BrokerPosition
from brokers.fyers import wire
from brokers.fyers.instruments import split_ticker

TAG_MAX: Final = 30
USER_TAG: Final = "1:"
"""The prefix Fyers puts before a tag the client chose."""
_FINAL: Final = {2: BrokerOrderStatus.COMPLETE, 1: BrokerOrderStatus.CANCELLED,
                 5: BrokerOrderStatus.REJECTED, 7: BrokerOrderStatus.CANCELLED}
_NOT_ALNUM: Final = re.compile(r"[^0-9A-Za-z]")


def tag_for(order_id: str) -> str:
    """Our order id as a Fyers orderTag: its alphanumeric characters, the last 30.

    An `ord_` id is "ord_" and a 26-character ULID, so the tag is "ord" + the whole ULID
    (29 characters): the full order id without its underscore, unique for ever.
    """
    return _NOT_ALNUM.sub("", order_id)[-TAG_MAX:]


def our_tag(order_tag: str | None) -> str | None:
    """The tag we gave from the order book's "1:<tag>"; None for Fyers' own tags."""
    if not order_tag or not order_tag.startswith(USER_TAG):
        return None
    return order_tag[len(USER_TAG):] or None


def status_of(fyers_status: int) -> BrokerOrderStatus:
    """Our normalised status for a Fyers order status code."""
    return _FINAL.get(fyers_status, BrokerOrderStatus.OPEN)


def to_broker_order(order: wire.Order) -> BrokerOrder:
    """A Fyers order-book entry as a BrokerOrder."""
    filled = order.filled_qty
    return BrokerOrder(
        broker_order_id=order.id, client_tag=our_tag(order.order_tag),
        status=status_of(order.status), filled_quantity=filled,
        average_price=order.traded_price if filled and order.traded_price else None,
        message=order.message or None,
        raw={"status": order.status, "symbol": order.symbol, "side": order.side,
             "qty": order.qty, "productType": order.product_type, "type": order.type,
             "orderTag": order.order_tag, "exchOrdId": order.exch_ord_id,
             "orderDateTime": order.order_date_time})


def to_position(position: wire.Position) -> BrokerPosition:
    """A Fyers net position as a BrokerPosition."""
    exchange, symbol = split_ticker(position.symbol)
    return BrokerPosition(exchange=exchange, symbol=symbol, quantity=position.net_qty,
                          buy_value=position.buy_val, sell_value=position.sell_val)


def rupees_to_paise(price: Decimal) -> int:
    """A rupee price from Fyers' JSON in integer paise (half up below a paisa)."""
    return int((price * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
