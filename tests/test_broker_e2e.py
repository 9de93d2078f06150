"""A strategy end to end on each fake broker (issue: real brokers): the trigger BUYs at its
time through the executor at the fake, the feed streams the broker's own WebSocket (the
`broker` source, on the account ALGO_FEED_BROKER_CREDENTIAL names), and a tick below the
stop-loss pushed on that socket makes the SL watcher exit: SL_EXIT placed at the fake,
position SL_HIT. Real NATS, PostgreSQL and Redis; every role in this process on one clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock
from core.connections import vault
from core.crypto import SecretBox
from core.db.enums import OrderAction, OrderStatus, Position, Role
from core.db.models import BrokerCredential
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.repos import users
from pipeline.context import ServiceContext
from pipeline.feed.broker import BrokerSource
from pipeline.feed.catalog import build_sources
from pipeline.feed.errors import FeedConfigError, SourceFailed
from pipeline.feed.service import FeedService
from pipeline.service import Service
from pipeline.slwatch.service import SlWatchService
from pipeline.trigger.service import TriggerService
from tests.conftest import make_settings
from tests.fakes.contract import FakeKit
from tests.fakes.kits import KITS
from tests.order_kit import Kit, at, clock_running, connected
from tests.stubs import eventually

STOP_PAISE = 240_000
"""The strategy's stop-loss, ₹2,400 (Kit.running_strategy)."""


@pytest.fixture(params=sorted(KITS))
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeKit]:
    """A running fake of each broker (the test id is the broker type)."""
    async with KITS[request.param]() as running:
        yield running


@asynccontextmanager
async def running(kit: Kit, service: type[Service], name: str) -> AsyncIterator[Service]:
    """A pipeline role in this process on the kit's clock."""
    instance = service(ServiceContext(nc=kit.nc, js=kit.js, sessions=kit.sessions,
                                      redis=kit.redis, clock=kit.clock,
                                      settings=kit.settings, instance=name))
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


async def test_a_strategy_buys_at_its_time_and_exits_on_a_tick_from_the_brokers_socket(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext, fake: FakeKit) -> None:
    clock = FakeClock(at(9, 29, 50))
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0, broker_read_timeout_s=1.0, **fake.settings())
    kit = Kit(settings, sessions, redis, nc, js, clock)
    credential_id = await connected(kit, fake, "trader@example.com")
    # The market-data account: an admin's own connection, named by configuration.
    feed_credential = await connected(kit, fake, "feed-admin@example.com", Role.ADMIN)
    kit.settings = settings.model_copy(update={"feed_sources": "broker",
                                               "feed_broker_credential": feed_credential})
    fake.set_ltp("NSE", "RELIANCE", 250_000)
    strategy = await kit.running_strategy("trader@example.com", broker=credential_id)
    factory = kit.counting_factory()

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(kit.executor(factory))
        feed = await stack.enter_async_context(running(kit, FeedService, "feed"))
        watcher = await stack.enter_async_context(running(kit, SlWatchService, "slwatch"))
        await stack.enter_async_context(running(kit, TriggerService, "trigger"))
        await stack.enter_async_context(clock_running(clock))
        assert isinstance(feed, FeedService) and isinstance(watcher, SlWatchService)

        buy = await kit.settled(strategy.id, OrderAction.BUY)
        assert buy.status == OrderStatus.FILLED, buy.status_reason
        assert buy.created_at >= at(9, 30)
        assert (await kit.strategy(strategy.id)).position == Position.BOUGHT
        assert fake.orders_received() == 1
        await eventually(lambda: strategy.id in watcher.index, message="stop-loss armed")
        assert watcher.index.stop_of(strategy.id) == STOP_PAISE
        assert ("NSE", "RELIANCE") in feed.subscribed

        fake.set_ltp("NSE", "RELIANCE", STOP_PAISE - 1_000)  # the market fell

        async def exit_ordered() -> bool:
            # Pushed until the feed's socket has subscribed and the tick came through.
            await fake.push_tick("NSE", "RELIANCE", STOP_PAISE - 1_000)
            await asyncio.sleep(0.05)
            return await kit.order(strategy.id, OrderAction.SL_EXIT) is not None

        await eventually(exit_ordered, timeout=15, interval=0.1,
                         message="an SL_EXIT from a broker tick")
        exit_order = await kit.settled(strategy.id, OrderAction.SL_EXIT)
        assert exit_order.status == OrderStatus.FILLED, exit_order.status_reason
        assert exit_order.average_price == Decimal("2390.00")
        assert feed.counters()["by_source"]["broker"]["ticks_in"] >= 1

    row = await kit.strategy(strategy.id)
    assert row.position == Position.SL_HIT
    assert row.last_action == OrderAction.SL_EXIT
    assert fake.orders_received() == 2
    assert [c.side.value for c in factory.calls] == ["BUY", "SELL"]


# ---- the market-data account --------------------------------------------------------------


def test_the_broker_source_needs_a_named_credential(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis) -> None:
    settings = make_settings(endpoints, tmp_path, feed_sources="synthetic,broker")
    log = logging.getLogger("test.feed")
    with pytest.raises(FeedConfigError, match="ALGO_FEED_BROKER_CREDENTIAL"):
        build_sources(settings, FakeClock(at(10, 0)), redis, log, sessions)
    named = settings.model_copy(update={"feed_broker_credential": "brk_x"})
    with pytest.raises(FeedConfigError, match="database"):
        build_sources(named, FakeClock(at(10, 0)), redis, log)
    assert [s.name for s in build_sources(named, FakeClock(at(10, 0)), redis, log,
                                          sessions)] == ["synthetic", "broker"]


async def test_a_missing_market_data_credential_fails_the_source(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis) -> None:
    settings = make_settings(endpoints, tmp_path)
    source = BrokerSource.from_settings(settings, new_id("brk"), sessions, redis,
                                        FakeClock(at(10, 0)))
    with pytest.raises(SourceFailed, match="does not exist"):
        await source.start()  # the runner retries this with backoff
    await source.close()


async def test_a_market_data_credential_of_a_non_admin_is_refused(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    """The feed serves every user: a user's own connection (which its owner may disconnect
    or let lapse) is not streamed; the refusal is CRITICAL (an admin alert)."""
    settings = make_settings(endpoints, tmp_path)
    box = SecretBox(settings.encryption_key_map)
    async with sessions() as session, session.begin():
        user = await users.create_user(session, email="u@example.com", password_hash="x")
        row = BrokerCredential(id=new_id("brk"), user_id=user.id, broker_type="zerodha",
                               is_valid=True)
        vault.seal(box, row, {"api_key": "k", "api_secret": "s"}, "t")
        session.add(row)
    source = BrokerSource.from_settings(settings, row.id, sessions, redis,
                                        FakeClock(at(10, 0)))
    for _ in range(2):  # the runner retries with backoff; one alert
        with pytest.raises(SourceFailed, match="not an active admin"):
            await source.start()
    await source.close()
    assert len([r for r in caplog.records if r.levelno == logging.CRITICAL]) == 1
