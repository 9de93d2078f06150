"""The broker factory: one connected broker per account, by broker type (BRK-8).

Paper accounts share one PaperExchange. Real broker types come from a registry of
builders: Zerodha is registered at construction (brokers/zerodha/registry.py); Dhan, Fyers
and Angel One join as their adapters land. Tests may register a builder of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.angel_one import orders as angel_one_orders
from brokers.angel_one.registry import AngelOneBuilder
from brokers.base import BaseBroker
from brokers.dhan import orders as dhan_orders
from brokers.dhan.registry import DhanBuilder
from brokers.errors import UnsupportedBroker
from brokers.fyers import orders as fyers_orders
from brokers.fyers.registry import FyersBuilder
from brokers.paper import PaperBroker, PaperConfig, PaperExchange
from brokers.zerodha import orders as zerodha_orders
from brokers.zerodha.registry import ZerodhaBuilder
from core.clock import Clock
from core.db.enums import BrokerType
from core.settings import Settings

log = logging.getLogger("algo.brokers")


class BrokerBuilder(Protocol):
    """Builds an unconnected broker for one user's credential (the factory connects it)."""

    async def __call__(self, *, user_id: str, credential_id: str | None) -> BaseBroker: ...


class BrokerFactory:
    """Hands out cached, connected brokers; `close()` closes them all."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 redis: Redis, clock: Clock) -> None:
        self._paper = PaperExchange(sessions, redis, clock, PaperConfig.from_settings(settings))
        self._builders: dict[str, BrokerBuilder] = {}
        self._taggers: dict[str, Callable[[str], str]] = {}
        self._brokers: dict[tuple[str, str, str | None], BaseBroker] = {}
        self._locks: dict[tuple[str, str, str | None], asyncio.Lock] = {}
        self.register(BrokerType.ZERODHA, ZerodhaBuilder(settings, sessions, clock),
                      tag_for=zerodha_orders.tag_for)
        self.register(BrokerType.FYERS, FyersBuilder(settings, sessions, clock),
                      tag_for=fyers_orders.tag_for)
        self.register(BrokerType.DHAN, DhanBuilder(settings, sessions, clock),
                      tag_for=dhan_orders.tag_for)
        self.register(BrokerType.ANGEL_ONE, AngelOneBuilder(settings, sessions, clock),
                      tag_for=angel_one_orders.tag_for)

    @property
    def paper_exchange(self) -> PaperExchange:
        """The exchange every paper account of this process trades on."""
        return self._paper

    def register(self, broker_type: str, builder: BrokerBuilder, *,
                 tag_for: Callable[[str], str] = BaseBroker.tag_for) -> None:
        """Make `broker_type` available (a real adapter, or a test's fake), with the
        function that turns our order id into its client tag."""
        if broker_type == BrokerType.PAPER:
            raise ValueError("the paper broker is built in")
        self._builders[broker_type] = builder
        self._taggers[broker_type] = tag_for

    def tag_for(self, broker_type: str, order_id: str) -> str:
        """The client tag an order of `broker_type` carries, without building a broker (the
        executor names it while it holds row locks); UnsupportedBroker for an unknown type."""
        if broker_type == BrokerType.PAPER:
            return PaperBroker.tag_for(order_id)
        tagger = self._taggers.get(broker_type)
        if tagger is None:
            raise UnsupportedBroker(f"no adapter for broker type {broker_type!r} "
                                    f"(available: {', '.join(self.available())})")
        return tagger(order_id)

    async def for_account(self, *, user_id: str, broker_type: str,
                          credential_id: str | None) -> BaseBroker:
        """The connected broker of this account, built and connected on first use."""
        paper = broker_type == BrokerType.PAPER
        key = (broker_type, user_id, None if paper else credential_id)
        broker = self._brokers.get(key)
        if broker is not None:
            return broker
        # One build per account even when several commands for it arrive at once.
        async with self._locks.setdefault(key, asyncio.Lock()):
            broker = self._brokers.get(key)
            if broker is None:
                broker = await self._build(user_id, broker_type, credential_id)
                await broker.connect()
                self._brokers[key] = broker
            return broker

    async def close(self) -> None:
        """Close every broker handed out; a failing close is logged, the others still run."""
        brokers, self._brokers = list(self._brokers.values()), {}
        results = await asyncio.gather(*(b.close() for b in brokers), return_exceptions=True)
        for broker, result in zip(brokers, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("broker close failed", extra={"account": broker.account,
                                                          "error": repr(result)})

    async def _build(self, user_id: str, broker_type: str,
                     credential_id: str | None) -> BaseBroker:
        if broker_type == BrokerType.PAPER:
            return PaperBroker(f"paper:{user_id}", self._paper)
        builder = self._builders.get(broker_type)
        if builder is None:
            raise UnsupportedBroker(f"no adapter for broker type {broker_type!r} "
                                    f"(available: {', '.join(self.available())})")
        return await builder(user_id=user_id, credential_id=credential_id)

    def available(self) -> list[str]:
        """The broker types this factory can build."""
        return sorted({BrokerType.PAPER.value, *self._builders})
