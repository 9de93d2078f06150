"""The stale-feed watchdog (RUN-3): an armed stop-loss on a silent feed is watched on polled
prices, users and admins are told, and the feed's own ticks take over again."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys, subjects
from core.clock import FakeClock
from core.db.enums import OrderAction, OrderStatus, Position
from core.db.models import Strategy
from core.embedded.stack import Endpoints
from core.events import SYSTEM_USER, EventType
from core.messages import Event, decoder
from core.strategies.runtime import RuntimeStore
from tests.conftest import make_settings
from tests.order_kit import Kit, at
from tests.stubs import eventually
from tests.test_feed import RELIANCE, ManualSource, advance_until, feeding, stored_ticks

_event = decoder(Event)


def _kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
         redis: Redis, nc: NatsClient, js: JetStreamContext, hh: int) -> Kit:
    settings = make_settings(endpoints, tmp_path, feed_ltp_interval_ms=100, feed_stale_s=3)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(hh, 0)))


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    """Servers and a fake clock at 10:00 IST on a trading day (the market is open)."""
    return _kit(endpoints, tmp_path, sessions, redis, nc, js, 10)


@pytest.fixture
def evening_kit(endpoints: Endpoints, tmp_path: Path,
                sessions: async_sessionmaker[AsyncSession], redis: Redis, nc: NatsClient,
                js: JetStreamContext) -> Kit:
    """The same at 20:00 IST (the market is shut)."""
    return _kit(endpoints, tmp_path, sessions, redis, nc, js, 20)


async def bought(kit: Kit) -> Strategy:
    """A running strategy whose runtime record says BOUGHT (as the executor leaves it)."""
    strategy = await kit.running_strategy()
    store = RuntimeStore(kit.redis)
    record = await store.get(strategy.user_id, strategy.id)
    assert record is not None
    assert await store.put(msgspec.structs.replace(record, position=Position.BOUGHT.value,
                                                   rev=record.rev + 1))
    return strategy


async def events(js: JetStreamContext, kind: str) -> list[Event]:
    """The events of one data kind on the EVENTS stream, oldest first."""
    info = await js.stream_info(subjects.EVENTS)
    found: list[Event] = []
    if not info.state.messages:
        return found
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await js.get_msg(subjects.EVENTS, seq)
        assert raw.data is not None
        event = _event.decode(raw.data)
        if event.data.get("kind") == kind:
            found.append(event)
    return found


async def at_least(js: JetStreamContext, kind: str, count: int) -> list[Event] | None:
    """The events of a kind once there are `count` of them."""
    found = await events(js, kind)
    return found if len(found) >= count else None


async def test_a_stale_feed_is_polled_alerted_and_handed_back(kit: Kit) -> None:
    strategy = await bought(kit)
    source = ManualSource()
    source.price = 249_000
    async with feeding(kit, [source]) as feed:
        assert [h.strategy_id for h in feed.tracker.interest.armed(RELIANCE)] == [strategy.id]
        await eventually(lambda: feed.runners[0].stats.up)
        source.push(250_000)
        await eventually(lambda: feed.ticks_out == 1)
        clock = kit.clock
        assert isinstance(clock, FakeClock)
        quiet_from = clock.monotonic()

        await advance_until(kit, lambda: RELIANCE in feed.watchdog.polling, step=0.5,
                            message="polling")
        assert clock.monotonic() - quiet_from >= 3  # feed_stale_s

        # Polled prices go out as ticks and into the LTP, once a second.
        async def polled() -> bool:
            prices = [t.ltp_paise for _, t in await stored_ticks(kit.js)]
            return prices.count(249_000) >= 2

        await advance_until(kit, polled, step=0.5, message="two polled ticks")
        await advance_until(kit, lambda: kit.redis.get(redis_keys.ltp("NSE", "RELIANCE")),
                            step=0.1)
        assert await kit.redis.get(redis_keys.ltp("NSE", "RELIANCE")) == "249000"

        stale = await eventually(lambda: at_least(kit.js, "feed_stale", 2))
        assert {(e.type, e.user_id, e.strategy_id) for e in stale} == {
            (EventType.ERROR.value, strategy.user_id, strategy.id),
            (EventType.ERROR.value, SYSTEM_USER, None)}
        assert all(e.data["symbol"] == "RELIANCE" and e.data["exchange"] == "NSE"
                   for e in stale)
        assert [e.data["strategies"] for e in stale if e.user_id == SYSTEM_USER] == [1]

        # The feed's own ticks resume: polling stops and everyone is told.
        source.push(250_500)
        await advance_until(kit, lambda: RELIANCE not in feed.watchdog.polling, step=0.5,
                            message="back to the feed")
        recovered = await eventually(lambda: at_least(kit.js, "feed_recovered", 2))
        assert {(e.type, e.user_id, e.strategy_id) for e in recovered} == {
            (EventType.NOTIFICATION.value, strategy.user_id, strategy.id),
            (EventType.NOTIFICATION.value, SYSTEM_USER, None)}
        polls = feed.watchdog.polled
        for n in range(5):  # a live feed is left alone
            source.push(250_600 + 5 * n)

            def arrived(want: int = 3 + n) -> bool:
                return feed.ticks_in == want

            await eventually(arrived)
            await clock.advance(1.0)
        assert feed.watchdog.polled == polls and not feed.watchdog.polling
        assert len(await events(kit.js, "feed_stale")) == 2  # one alert per episode


async def test_no_polling_without_an_armed_stop_loss(kit: Kit) -> None:
    await kit.running_strategy()  # position NONE
    source = ManualSource()
    source.price = 249_000
    async with feeding(kit, [source]) as feed:
        clock = kit.clock
        assert isinstance(clock, FakeClock)
        for _ in range(8):
            await clock.advance(1.0)
        await eventually(lambda: clock.sleepers > 0)
        assert feed.watchdog.polling == {}
        assert feed.watchdog.alerts == 0


async def test_no_polling_outside_market_hours(evening_kit: Kit) -> None:
    await bought(evening_kit)
    source = ManualSource()
    source.price = 249_000
    async with feeding(evening_kit, [source]) as feed:
        clock = evening_kit.clock
        assert isinstance(clock, FakeClock)
        for _ in range(8):
            await clock.advance(1.0)
            await eventually(lambda: feed.watchdog.polling == {})
        assert feed.watchdog.alerts == 0


async def test_an_executed_buy_arms_the_watchdog_and_the_exit_disarms_it(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    async with feeding(kit, [ManualSource()]) as feed, kit.executor():
        assert feed.tracker.interest.armed(RELIANCE) == []
        await kit.command(strategy, OrderAction.BUY)
        assert (await kit.settled(strategy.id, OrderAction.BUY)).status == OrderStatus.FILLED
        await eventually(lambda: feed.tracker.interest.armed(RELIANCE), message="armed")
        await kit.command(strategy, OrderAction.SELL)
        assert (await kit.settled(strategy.id, OrderAction.SELL)).status == OrderStatus.FILLED
        await eventually(lambda: not feed.tracker.interest.armed(RELIANCE), message="disarmed")
        assert feed.subscribed == {RELIANCE}  # still running: still quoted


async def test_a_stopped_strategy_keeps_its_quote_until_the_square_off_fills(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    async with feeding(kit, [ManualSource()]) as feed:
        async with kit.executor():
            await kit.command(strategy, OrderAction.BUY)
            await kit.settled(strategy.id, OrderAction.BUY)
            await eventually(lambda: feed.tracker.interest.armed(RELIANCE))
        # Stopping a bought strategy squares it off; until that fills, its stop stays armed.
        stopped = await kit.strategies.stop(strategy.user_id, strategy.id)
        await eventually(lambda: (h := feed.tracker.interest.get(strategy.id)) is not None
                         and h.rev == stopped.rev)
        assert feed.subscribed == {RELIANCE}
        assert feed.tracker.interest.armed(RELIANCE)
        async with kit.executor():
            await kit.settled(strategy.id, OrderAction.SQUARE_OFF)
            await eventually(lambda: feed.subscribed == frozenset(), message="released")
