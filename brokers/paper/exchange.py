"""The paper exchange: one per process, shared by every paper account (BRK-6).

Its book is the `paper_orders` table, not process memory, so it outlives an executor crash
the way a real broker's book does. MARKET orders fill at the LTP in Redis moved against the
order by the slippage; with a fill delay they stay OPEN until a read after `fill_at`
settles them at the LTP of that moment. Tags are not unique here, as at a real broker: the
executor, not the broker, guarantees exactly-once.

Errors follow the broker contract: a refused order is booked REJECTED *and* raised as
OrderRejected; Redis failing before booking is NotSent; the database failing while
booking is Ambiguous (the commit may have landed); a failed read is BrokerUnavailable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import BrokerOrder, BrokerOrderStatus, BrokerPosition, OrderRequest, Side
from brokers.errors import Ambiguous, BrokerUnavailable, NotSent, OrderRejected, RateLimited
from brokers.paper.book import invalid_request, no_price, to_broker_order
from brokers.paper.faults import READ_FAULTS, Fault, FaultMode, PaperFaults
from brokers.paper.pricing import fill_price, parse_paise
from brokers.paper.ticker import PaperTicker
from core import redis_keys
from core.batch import Batcher
from core.clock import IST, Clock, trading_day
from core.db.driver import DRIVER_ERRORS, Driver
from core.db.models import PaperOrder
from core.ids import new_id
from core.repos import paper_orders
from core.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PaperConfig:
    """How the paper exchange fills orders."""

    slippage_bps: int = 0
    latency_ms: int = 0
    """Time between receiving an order and reading the price it fills at."""
    fill_delay_ms: int = 0
    """0: MARKET orders fill at once; else they stay OPEN this long."""

    @classmethod
    def from_settings(cls, settings: Settings) -> PaperConfig:
        """The configuration from `ALGO_PAPER_*`."""
        return cls(slippage_bps=settings.paper_slippage_bps,
                   latency_ms=settings.paper_latency_ms,
                   fill_delay_ms=settings.paper_fill_delay_ms)


class PaperExchange:
    """A simulated broker: order book in PostgreSQL, prices and fault switches in Redis."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis, clock: Clock,
                 config: PaperConfig) -> None:
        self._sessions = sessions
        self._driver = Driver.of(sessions)
        self._redis = redis
        self._clock = clock
        self._config = config
        self._faults = PaperFaults(redis)
        # Orders arriving together are booked in one transaction, as an exchange's
        # matching engine takes them in sequence; failing, they all fail alike (Ambiguous).
        # Not isolated: a failed group may have been booked before the error, and an
        # exchange never books an order twice on its own.
        self._booking: Batcher[PaperOrder, None] = Batcher(self._book_many, max_size=128,
                                                           isolate=False)

    async def place(self, account: str, request: OrderRequest) -> BrokerOrder:
        """Book one MARKET order; raises OrderRejected, NotSent, RateLimited or Ambiguous."""
        received = self._clock.now()  # first thing: the benchmark's "request received"
        problem = invalid_request(request)
        if problem is not None:
            # Like a broker's input validation (HTTP 400): refused before any order exists.
            raise OrderRejected(problem, response={"message": problem})
        key = redis_keys.ltp(request.exchange, request.symbol)
        latency_s = self._config.latency_ms / 1000
        raw: str | bytes | None
        try:
            # One round trip takes a fault switch and, when no latency is simulated, the price.
            fault, raw = await self._faults.take_and_get(account, None if latency_s else key)
            _raise_unbooked(fault)
            if latency_s:
                await self._clock.sleep(latency_s)
                raw = await self._redis.get(key)
        except RedisError as exc:
            raise NotSent(f"paper exchange unavailable before booking: {exc}") from exc
        mode = None if fault is None else fault.mode
        refused = "paper fault: reject" if mode is FaultMode.REJECT else None
        order = await self._book(account, request, received, parse_paise(raw), refused=refused)
        if mode is FaultMode.TIMEOUT_AFTER_ACCEPT:
            raise Ambiguous("paper fault: timeout_after_accept (order booked, response lost)")
        if fault is not None and mode is FaultMode.HANG_AFTER_ACCEPT:
            await self._clock.sleep(fault.hang_s)  # a test kills the caller meanwhile
        if order.status is BrokerOrderStatus.REJECTED:
            raise OrderRejected(order.message or "rejected", response=order.as_log())
        return order

    async def get(self, account: str, broker_order_id: str) -> BrokerOrder:
        """One order of the account, of any day.

        An unknown id raises BrokerUnavailable ("try later"), never a verdict of absence:
        only `find_by_tag` returning None proves an order absent.
        """
        row = await self._read(account, lambda s: paper_orders.get(s, account, broker_order_id))
        if row is None:
            raise BrokerUnavailable(f"no order {broker_order_id} in {account}")
        return to_broker_order(row)

    async def orders(self, account: str) -> list[BrokerOrder]:
        """Today's book (IST) of the account, oldest first."""
        start, end = self._today()
        rows = await self._read(account, lambda s: paper_orders.between(s, account, start, end))
        return [to_broker_order(row) for row in rows]

    async def find_by_tag(self, account: str, client_tag: str) -> BrokerOrder | None:
        """The newest order carrying `client_tag`, of any day; None proves it absent."""
        row = await self._read(account,
                               lambda s: paper_orders.latest_by_tag(s, account, client_tag))
        return None if row is None else to_broker_order(row)

    async def positions(self, account: str) -> list[BrokerPosition]:
        """Net positions from today's COMPLETE orders (flat ones included, as brokers do)."""
        start, end = self._today()
        nets = await self._read(account,
                                lambda s: paper_orders.net_positions(s, account, start, end),
                                faultable=False)
        return [BrokerPosition(exchange=n.exchange, symbol=n.symbol,
                               quantity=n.bought - n.sold, buy_value=n.buy_value,
                               sell_value=n.sell_value) for n in nets]

    async def ltp(self, exchange: str, symbol: str) -> int:
        """The last traded price in paise; BrokerUnavailable when the feed has none."""
        try:
            paise = parse_paise(await self._redis.get(redis_keys.ltp(exchange, symbol)))
        except RedisError as exc:
            raise BrokerUnavailable(f"price store unavailable: {exc}") from exc
        if paise is None:
            raise BrokerUnavailable(no_price(exchange, symbol))
        return paise

    def ticker(self, *, interval_s: float = 0.2) -> PaperTicker:
        """A tick stream polling the prices in Redis."""
        return PaperTicker(self._redis, self._clock, interval_s=interval_s)

    async def _book(self, account: str, request: OrderRequest, received: datetime,
                    ltp_paise: int | None, *, refused: str | None) -> BrokerOrder:
        """Commit the order to the book: REJECTED, OPEN (fill delay) or COMPLETE."""
        now = self._clock.now()
        side = Side(request.side)
        status, price, fill_at = BrokerOrderStatus.COMPLETE, None, None
        if refused is None and ltp_paise is None:
            refused = no_price(request.exchange, request.symbol)
        if refused is not None:
            status = BrokerOrderStatus.REJECTED
        elif self._config.fill_delay_ms:
            status = BrokerOrderStatus.OPEN
            fill_at = now + timedelta(milliseconds=self._config.fill_delay_ms)
        elif ltp_paise is not None:
            price = fill_price(ltp_paise, side, self._config.slippage_bps)
        filled = status is BrokerOrderStatus.COMPLETE
        row = PaperOrder(
            id=new_id("ppo", now_ms=int(received.timestamp() * 1000)), account=account,
            client_tag=request.client_tag, exchange=request.exchange, symbol=request.symbol,
            side=side.value, quantity=request.quantity, product=request.product,
            order_type=request.order_type, status=status.value, status_message=refused,
            filled_quantity=request.quantity if filled else 0, average_price=price,
            created_at=received, fill_at=fill_at, filled_at=now if filled else None)
        try:
            await self._booking.submit(row)
        except DRIVER_ERRORS as exc:
            # The commit may have landed before the error: the caller must look the tag up.
            raise Ambiguous(f"paper book failed while booking: {exc}") from exc
        return to_broker_order(row)

    async def _book_many(self, rows: list[PaperOrder]) -> list[None]:
        async with self._driver.connection("paper booking") as conn:
            await paper_orders.book(conn, rows)  # one round trip, atomic
        return [None] * len(rows)

    async def _read(self, account: str, query: Callable[[AsyncSession], Awaitable[T]], *,
                    faultable: bool = True) -> T:
        """Run a read of the book after settling due orders; failures are BrokerUnavailable."""
        try:
            if faultable and await self._faults.take(account, modes=READ_FAULTS) is not None:
                raise BrokerUnavailable("paper fault: lookup_fail")
            await self._settle_due(account)
            async with self._sessions() as session:
                return await query(session)
        except (RedisError, SQLAlchemyError, OSError) as exc:
            raise BrokerUnavailable(f"paper book unavailable: {exc}") from exc

    async def _settle_due(self, account: str) -> None:
        """Fill the account's OPEN orders whose fill time has passed, at the LTP of now."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            rows = await paper_orders.due(session, account, now)
            if not rows:
                return
            raws = await self._redis.mget([redis_keys.ltp(r.exchange, r.symbol) for r in rows])
            for row, raw in zip(rows, raws, strict=True):
                paise = parse_paise(raw)
                if paise is None:
                    await paper_orders.settle(
                        session, row.id, status=BrokerOrderStatus.REJECTED.value,
                        status_message=no_price(row.exchange, row.symbol), filled_quantity=0,
                        average_price=None, filled_at=None)
                else:
                    await paper_orders.settle(
                        session, row.id, status=BrokerOrderStatus.COMPLETE.value,
                        status_message=None, filled_quantity=row.quantity,
                        average_price=fill_price(paise, Side(row.side),
                                                 self._config.slippage_bps),
                        filled_at=now)

    def _today(self) -> tuple[datetime, datetime]:
        start = datetime.combine(trading_day(self._clock), time.min, tzinfo=IST)
        return start, start + timedelta(days=1)


def _raise_unbooked(fault: Fault | None) -> None:
    """The faults that fail an order before the broker books it."""
    if fault is None:
        return
    if fault.mode is FaultMode.FAIL_BEFORE_SEND:
        raise NotSent("paper fault: fail_before_send")
    if fault.mode is FaultMode.RATE_LIMIT:
        raise RateLimited("paper fault: rate_limit", retry_after_s=1.0)
    if fault.mode is FaultMode.ERROR_5XX:
        raise Ambiguous("paper fault: error_5xx (nothing booked)")
