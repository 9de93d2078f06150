"""The one interface every broker adapter implements (BRK-1).

The executor is the only caller of `place_order`; it passes a client tag derived from
our order id so that an order whose fate is unknown can be found again (`find_by_tag`).
Prices cross this interface as `Decimal` rupees, except `get_ltp`, which returns integer
paise like every hot-path price.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from core.messages import Tick


class Side(StrEnum):
    """Buy or sell."""

    BUY = "BUY"
    SELL = "SELL"


class BrokerOrderStatus(StrEnum):
    """An order's state at the broker, normalised."""

    OPEN = "OPEN"
    """Accepted, not yet (fully) filled."""
    COMPLETE = "COMPLETE"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        """True once the broker will not change the order any more."""
        return self is not BrokerOrderStatus.OPEN


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An intraday MARKET order, as the executor asks for it."""

    client_tag: str
    exchange: str
    symbol: str
    side: Side
    quantity: int
    product: str = "MIS"
    order_type: str = "MARKET"

    def as_log(self) -> dict[str, Any]:
        """The request as stored in `order_logs`."""
        return {"client_tag": self.client_tag, "exchange": self.exchange,
                "symbol": self.symbol, "side": self.side.value, "quantity": self.quantity,
                "product": self.product, "order_type": self.order_type}


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the broker reports it."""

    broker_order_id: str
    client_tag: str | None
    status: BrokerOrderStatus
    filled_quantity: int = 0
    average_price: Decimal | None = None
    message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def as_log(self) -> dict[str, Any]:
        """The response as stored in `order_logs`."""
        return {"broker_order_id": self.broker_order_id, "status": self.status.value,
                "filled_quantity": self.filled_quantity,
                "average_price": None if self.average_price is None else str(self.average_price),
                "message": self.message}


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """A net intraday position in one instrument."""

    exchange: str
    symbol: str
    quantity: int
    """Net quantity: positive long, negative short, zero flat."""
    buy_value: Decimal
    sell_value: Decimal


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What `validate()` learns about the account."""

    account_id: str
    name: str | None = None


class Ticker(Protocol):
    """A broker's market-data stream (the feed service consumes it)."""

    async def subscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Start receiving ticks of these (exchange, symbol) pairs."""
        ...

    async def unsubscribe(self, instruments: list[tuple[str, str]]) -> None:
        """Stop receiving ticks of these pairs."""
        ...

    def ticks(self) -> AsyncIterator[Tick]:
        """Ticks as they arrive, until `close()`."""
        ...

    async def close(self) -> None:
        """Close the stream."""
        ...


class BaseBroker(abc.ABC):
    """One broker account, ready to trade once `connect()` has returned."""

    broker_type: str
    """A `BrokerType` value."""

    @property
    @abc.abstractmethod
    def account(self) -> str:
        """The account's identity, the unit of the per-account rate limit."""

    @staticmethod
    def tag_for(order_id: str) -> str:
        """The client tag that carries our order id (adapters shorten it to their limits)."""
        return order_id

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open pools and sessions."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release pools and sessions."""

    @abc.abstractmethod
    async def validate(self) -> AccountInfo:
        """Check the credentials with the broker (TokenExpired if they are dead)."""

    @abc.abstractmethod
    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """Send one order; raises OrderRejected, NotSent, Ambiguous or TokenExpired."""

    @abc.abstractmethod
    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """One order by the broker's id."""

    @abc.abstractmethod
    async def get_orders(self) -> list[BrokerOrder]:
        """Today's order book."""

    async def find_by_tag(self, client_tag: str) -> BrokerOrder | None:
        """The order carrying `client_tag`, or None when it is proven absent."""
        matches = [o for o in await self.get_orders() if o.client_tag == client_tag]
        return matches[-1] if matches else None

    @abc.abstractmethod
    async def get_positions(self) -> list[BrokerPosition]:
        """Today's net positions."""

    @abc.abstractmethod
    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """Last traded price in paise."""

    @abc.abstractmethod
    def ticker(self) -> Ticker:
        """A market-data stream for this account."""
