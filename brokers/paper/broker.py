"""`PaperBroker`: one paper account, a thin view of the shared PaperExchange (BRK-6)."""

from __future__ import annotations

from brokers.base import (
    AccountInfo,
    BaseBroker,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
    Ticker,
)
from brokers.paper.exchange import PaperExchange
from core.db.enums import BrokerType


class PaperBroker(BaseBroker):
    """A paper account (`paper:{user_id}`): every order stays inside the paper exchange."""

    broker_type = BrokerType.PAPER.value

    def __init__(self, account: str, exchange: PaperExchange) -> None:
        self._account = account
        self._exchange = exchange

    @property
    def account(self) -> str:
        """The paper account id."""
        return self._account

    async def connect(self) -> None:
        """Nothing to open: the exchange's pools belong to the process."""

    async def close(self) -> None:
        """Nothing to release (the exchange is shared)."""

    async def validate(self) -> AccountInfo:
        """A paper account is always valid."""
        return AccountInfo(account_id=self._account, name="Paper trading")

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """Send one order to the paper exchange."""
        return await self._exchange.place(self._account, request)

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """One order by id (BrokerUnavailable if the book has no such order)."""
        return await self._exchange.get(self._account, broker_order_id)

    async def get_orders(self) -> list[BrokerOrder]:
        """Today's book, oldest first."""
        return await self._exchange.orders(self._account)

    async def find_by_tag(self, client_tag: str) -> BrokerOrder | None:
        """The newest order carrying `client_tag` (an indexed query, not a book scan)."""
        return await self._exchange.find_by_tag(self._account, client_tag)

    async def get_positions(self) -> list[BrokerPosition]:
        """Today's net positions."""
        return await self._exchange.positions(self._account)

    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """Last traded price in paise, from the feed's cache."""
        return await self._exchange.ltp(exchange, symbol)

    def ticker(self) -> Ticker:
        """Ticks polled from the feed's prices in Redis."""
        return self._exchange.ticker()
