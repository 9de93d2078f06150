"""Builders for order-pipeline tests: strategies, a running executor, commands, counters,
and a strategy at a fake broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import BaseBroker, BrokerOrder, OrderRequest
from brokers.factory import BrokerFactory
from core import redis_keys
from core.clock import IST, Clock, FakeClock
from core.commands import CommandPublisher, build_command, publish_command
from core.crypto import SecretBox
from core.db.enums import OrderAction, Role, StopLossType
from core.db.models import Order, PaperOrder, Strategy
from core.embedded.stack import Endpoints
from core.events import EventPublisher
from core.repos import users
from core.settings import Settings
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import PAPER, Limits, StrategySpec
from pipeline.context import ServiceContext
from pipeline.executor.service import ExecutorService
from tests.conftest import make_settings
from tests.fakes.contract import FakeKit

TRADING_DAY = datetime(2026, 11, 25, tzinfo=IST).date()
"""A Wednesday the NSE trades (24 Nov 2026 is a holiday, 28-29 Nov a weekend)."""
LTP_PAISE = 250_000
"""₹2,500.00."""


def at(hh: int, mm: int, ss: int = 0, day: Any = TRADING_DAY) -> datetime:
    """An IST instant on `day`."""
    return datetime.combine(day, time(hh, mm, ss), IST)


class CountingBroker(BaseBroker):
    """A real broker behind a counter of every place_order call (the test's witness)."""

    def __init__(self, inner: BaseBroker, calls: list[OrderRequest]) -> None:
        self._inner = inner
        self._calls = calls
        self.broker_type = inner.broker_type

    @property
    def account(self) -> str:
        """The inner broker's account."""
        return self._inner.account

    def tag_for(self, order_id: str) -> str:  # type: ignore[override]
        """The inner broker's tag."""
        return self._inner.tag_for(order_id)

    async def connect(self) -> None:
        """Connect the inner broker."""
        await self._inner.connect()

    async def close(self) -> None:
        """Close the inner broker."""
        await self._inner.close()

    async def validate(self) -> Any:
        """Validate with the inner broker."""
        return await self._inner.validate()

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """Count, then place."""
        self._calls.append(request)
        return await self._inner.place_order(request)

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """Delegate."""
        return await self._inner.get_order(broker_order_id)

    async def get_orders(self) -> list[BrokerOrder]:
        """Delegate."""
        return await self._inner.get_orders()

    async def find_by_tag(self, client_tag: str) -> BrokerOrder | None:
        """Delegate."""
        return await self._inner.find_by_tag(client_tag)

    async def get_positions(self) -> Any:
        """Delegate."""
        return await self._inner.get_positions()

    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """Delegate."""
        return await self._inner.get_ltp(exchange, symbol)

    def ticker(self) -> Any:
        """Delegate."""
        return self._inner.ticker()


class CountingFactory(BrokerFactory):
    """A BrokerFactory whose brokers count their place_order calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[OrderRequest] = []
        self.built: list[str] = []

    async def for_account(self, *, user_id: str, broker_type: str,
                          credential_id: str | None) -> BaseBroker:
        """The real broker, wrapped."""
        self.built.append(broker_type)
        inner = await super().for_account(user_id=user_id, broker_type=broker_type,
                                          credential_id=credential_id)
        return CountingBroker(inner, self.calls)


@dataclass
class Kit:
    """What an order-pipeline test works with."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    nc: NatsClient
    js: JetStreamContext
    clock: Clock
    strategies: StrategyService = field(init=False)

    def __post_init__(self) -> None:
        self.strategies = StrategyService(
            self.sessions, self.redis, EventPublisher(self.js, self.clock), self.clock,
            Limits(max_quantity=10_000, max_stop_loss_pct=Decimal(20),
                   max_trailing_sl_pct=Decimal(20),
                   # Paper strategies may use any time of day, so tests on the real clock
                   # can place their times around "now".
                   paper_always_open=True),
            commands=CommandPublisher(self.js))

    async def set_ltp(self, paise: int = LTP_PAISE, symbol: str = "RELIANCE") -> None:
        """Quote a price where the paper broker and the validator read it."""
        await self.redis.set(redis_keys.ltp("NSE", symbol), paise)

    async def running_strategy(self, email: str = "t@example.com", *, buy: time = time(9, 30),
                               sell: time = time(15, 0), quantity: int = 10,
                               broker: str = PAPER, simulated: bool = False) -> Strategy:
        """A user with one RUNNING strategy on NSE:RELIANCE."""
        async with self.sessions() as session, session.begin():
            user = await users.get_user_by_email(session, email)
            if user is None:
                user = await users.create_user(session, email=email, password_hash="x")
        await self.set_ltp()
        row = await self.strategies.create(user.id, "test", StrategySpec(
            exchange="NSE", symbol="RELIANCE", buy_time=buy, sell_time=sell,
            stop_loss_type=StopLossType.PRICE, stop_loss_value=Decimal("2400"),
            quantity=quantity, broker=broker, is_simulated=simulated))
        return await self.strategies.start(user.id, row.id)

    async def command(self, strategy: Strategy, action: OrderAction,
                      day: Any = None) -> bool:
        """Publish one command as the trigger or the SL watcher would; False if deduplicated."""
        trading_day = (day or self.clock.now().astimezone(IST).date()).isoformat()
        return await publish_command(self.js, build_command(
            self.clock.now(), user_id=strategy.user_id, strategy_id=strategy.id,
            trading_day=trading_day, action=action, reason="test"))

    async def order(self, strategy_id: str, action: OrderAction) -> Order | None:
        """The order row of one intent today."""
        async with self.sessions() as session:
            return (await session.execute(select(Order).where(
                Order.strategy_id == strategy_id, Order.action == action.value))
            ).scalar_one_or_none()

    async def strategy(self, strategy_id: str) -> Strategy:
        """The strategy row as it is now."""
        async with self.sessions() as session:
            row = await session.get(Strategy, strategy_id)
        assert row is not None
        return row

    async def paper_orders(self, user_id: str) -> list[PaperOrder]:
        """What the paper broker booked for a user, oldest first."""
        async with self.sessions() as session:
            return list((await session.execute(
                select(PaperOrder).where(PaperOrder.account == f"paper:{user_id}")
                .order_by(PaperOrder.created_at))).scalars())

    async def settled(self, strategy_id: str, action: OrderAction) -> Order:
        """Wait for the intent's order to reach a final status."""
        from core.repos.orders import is_final
        from tests.stubs import eventually

        async def final() -> Order | None:
            row = await self.order(strategy_id, action)
            return row if row is not None and is_final(row.status) else None

        result: Order = await eventually(final, timeout=10, message=f"{action} settled")
        return result

    @asynccontextmanager
    async def executor(self, factory: BrokerFactory | None = None, *,
                       redis: Redis | None = None) -> AsyncIterator[ExecutorService]:
        """An executor service running in this process on the kit's clock."""
        ctx = ServiceContext(nc=self.nc, js=self.js, sessions=self.sessions,
                             redis=redis or self.redis, clock=self.clock,
                             settings=self.settings, instance="test-executor")
        service = ExecutorService(ctx, factory or self.counting_factory(redis))
        await service.start()
        try:
            yield service
        finally:
            await service.stop()

    def counting_factory(self, redis: Redis | None = None) -> CountingFactory:
        """A factory whose brokers count place_order calls."""
        return CountingFactory(self.settings, self.sessions, redis or self.redis, self.clock)


def fake_clock_at(when: datetime) -> FakeClock:
    """A fake clock at an IST instant."""
    return FakeClock(when)


# ---- a strategy at a fake broker (tests/fakes/contract.py) ---------------------------------


def at_fake_broker(fake: FakeKit, endpoints: Endpoints, tmp_path: Path,
                   sessions: async_sessionmaker[AsyncSession], redis: Redis, nc: NatsClient,
                   js: JetStreamContext) -> Kit:
    """The order kit on a fake clock at 09:30 IST, its settings pointing at the fake broker
    (an answer later than 0.5 s is a timeout; a command is redelivered after 2 s, four
    times at most)."""
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0, executor_max_deliver=4,
                             broker_read_timeout_s=0.5, **fake.settings())
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


async def connected(kit: Kit, fake: FakeKit, email: str, role: Role = Role.USER) -> str:
    """A user with a broker connection live at the fake; returns the credential id."""
    box = SecretBox(kit.settings.encryption_key_map)
    async with kit.sessions() as session, session.begin():
        user = await users.create_user(session, email=email, password_hash="x", role=role)
        credential = fake.credential(box, user.id)
        session.add(credential)
    return credential.id


@asynccontextmanager
async def clock_running(clock: FakeClock) -> AsyncIterator[None]:
    """The fake clock moves 0.1 s per 20 ms, so timers and polls of every role run."""
    async def tick() -> None:
        while True:
            await asyncio.sleep(0.02)
            await clock.advance(0.1)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def settled_in_time(kit: Kit, strategy_id: str, action: OrderAction) -> Order:
    """The order once final, the kit's fake clock moving meanwhile."""
    assert isinstance(kit.clock, FakeClock)
    async with clock_running(kit.clock):
        return await kit.settled(strategy_id, action)


async def one_buy(kit: Kit, email: str, credential_id: str) -> tuple[Order, CountingFactory]:
    """A running strategy of `email` on the connection, its BUY through the executor until
    final; the order, and the factory that counted the place_order calls."""
    strategy = await kit.running_strategy(email, broker=credential_id)
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        return await settled_in_time(kit, strategy.id, OrderAction.BUY), factory
