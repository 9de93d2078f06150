"""The broker factory (BRK-8): cached connected brokers by account and broker type."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import BaseBroker
from brokers.errors import UnsupportedBroker
from brokers.factory import BrokerFactory
from brokers.paper import PaperBroker, PaperExchange
from core.clock import FakeClock
from core.settings import Settings


class Recorder(PaperBroker):
    """A stand-in real broker that records its connects and closes."""

    broker_type = "zerodha"

    def __init__(self, account: str, exchange: PaperExchange, calls: list[str]) -> None:
        super().__init__(account, exchange)
        self._calls = calls

    async def connect(self) -> None:
        """Record, after yielding so that racing callers would overlap."""
        await asyncio.sleep(0)
        self._calls.append(f"connect {self.account}")

    async def close(self) -> None:
        """Record."""
        self._calls.append(f"close {self.account}")


@pytest.fixture
def factory(settings: Settings, sessions: async_sessionmaker[AsyncSession], redis: Redis,
            clock: FakeClock) -> BrokerFactory:
    """A factory on the test servers."""
    return BrokerFactory(settings, sessions, redis, clock)


async def test_paper_accounts_are_paper_brokers_cached_per_user(factory: BrokerFactory) -> None:
    alice = await factory.for_account(user_id="usr_a", broker_type="paper", credential_id=None)
    assert isinstance(alice, PaperBroker)
    assert alice.account == "paper:usr_a"
    again = await factory.for_account(user_id="usr_a", broker_type="paper",
                                      credential_id="ignored")
    assert again is alice
    bob = await factory.for_account(user_id="usr_b", broker_type="paper", credential_id=None)
    assert bob is not alice
    assert bob.account == "paper:usr_b"


async def test_unregistered_real_broker_is_unsupported(factory: BrokerFactory) -> None:
    with pytest.raises(UnsupportedBroker, match="nosuchbroker"):
        await factory.for_account(user_id="usr_a", broker_type="nosuchbroker",
                                  credential_id="brk_1")


async def test_registered_builder_is_built_once_connected_and_closed(
        factory: BrokerFactory) -> None:
    calls: list[str] = []

    async def build(*, user_id: str, credential_id: str | None) -> BaseBroker:
        calls.append(f"build {user_id} {credential_id}")
        return Recorder(f"zerodha:{credential_id}", factory.paper_exchange, calls)

    factory.register("zerodha", build)
    assert factory.available().count("zerodha") == 1  # replaced the built-in builder
    brokers = await asyncio.gather(*(
        factory.for_account(user_id="usr_a", broker_type="zerodha", credential_id="brk_1")
        for _ in range(5)))
    assert all(b is brokers[0] for b in brokers)
    assert calls == ["build usr_a brk_1", "connect zerodha:brk_1"]
    other = await factory.for_account(user_id="usr_a", broker_type="zerodha",
                                      credential_id="brk_2")  # a reconnected credential
    assert other is not brokers[0]
    await factory.close()
    assert sorted(c for c in calls if c.startswith("close")) == [
        "close zerodha:brk_1", "close zerodha:brk_2"]
    fresh = await factory.for_account(user_id="usr_a", broker_type="zerodha",
                                      credential_id="brk_1")
    assert fresh is not brokers[0]


def test_paper_cannot_be_replaced(factory: BrokerFactory) -> None:
    async def build(*, user_id: str, credential_id: str | None) -> BaseBroker:
        raise AssertionError("never built")

    with pytest.raises(ValueError, match="built in"):
        factory.register("paper", build)
