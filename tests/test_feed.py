"""The feed service against real NATS, Redis and PostgreSQL: what it quotes, publishes and
caches, how it follows the strategies, replays a file and restarts a broken source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import time
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys, subjects
from core.clock import FakeClock
from core.embedded.stack import Endpoints
from core.messages import Tick, decoder
from pipeline.context import ServiceContext
from pipeline.feed.errors import SourceFailed, UnknownSource
from pipeline.feed.service import FeedService
from pipeline.feed.sources import Instrument, TickSource
from tests.conftest import make_settings
from tests.order_kit import Kit, at
from tests.stubs import eventually

RELIANCE = ("NSE", "RELIANCE")
TCS = ("NSE", "TCS")
_tick = decoder(Tick)


class ManualSource:
    """A source the test drives: ticks are pushed, the REST price is set, and it can be told
    to fail its first `fail` starts of `ticks()`."""

    def __init__(self, name: str = "manual", *, fail: int = 0) -> None:
        self.name = name
        self.fail = fail
        self.price: int | None = None
        self.started = 0
        self.closed = 0
        self.subscribed: list[set[Instrument]] = []
        self.unsubscribed: list[set[Instrument]] = []
        self._queue: asyncio.Queue[Tick | None] = asyncio.Queue()
        self._ts = 1_000

    async def start(self) -> None:
        """Count the start."""
        self.started += 1
        self._queue = asyncio.Queue()

    async def close(self) -> None:
        """End `ticks()`."""
        self.closed += 1
        self._queue.put_nowait(None)

    async def subscribe(self, instruments: set[Instrument]) -> None:
        """Record the call."""
        self.subscribed.append(set(instruments))

    async def unsubscribe(self, instruments: set[Instrument]) -> None:
        """Record the call."""
        self.unsubscribed.append(set(instruments))

    async def ticks(self) -> AsyncGenerator[Tick, None]:
        """The pushed ticks, or a failure."""
        if self.fail:
            self.fail -= 1
            raise SourceFailed("the socket went away")
        while (tick := await self._queue.get()) is not None:
            yield tick

    async def last_price(self, exchange: str, symbol: str) -> int | None:
        """The price the test set."""
        return self.price

    def push(self, paise: int, symbol: str = "RELIANCE", ts: int | None = None) -> int:
        """Deliver one tick; returns its exchange timestamp."""
        self._ts = ts if ts is not None else self._ts + 1
        self._queue.put_nowait(Tick(exchange="NSE", symbol=symbol, ltp_paise=paise,
                                    exchange_ts=self._ts, received_ts=self._ts))
        return self._ts


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    """Servers and a fake clock at 10:00 IST on a trading day."""
    settings = make_settings(endpoints, tmp_path, feed_synthetic_rate=100,
                             feed_ltp_interval_ms=100, feed_stale_s=3)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(10, 0)))


@asynccontextmanager
async def feeding(kit: Kit, sources: Sequence[TickSource] | None = None,
                  **settings: object) -> AsyncIterator[FeedService]:
    """A feed service running in this process on the kit's clock."""
    service = FeedService(ServiceContext(
        nc=kit.nc, js=kit.js, sessions=kit.sessions, redis=kit.redis, clock=kit.clock,
        settings=kit.settings.model_copy(update=settings), instance="test-feed"), sources)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def stored_ticks(js: JetStreamContext) -> list[tuple[str, Tick]]:
    """Every tick the TICKS stream holds, in order."""
    info = await js.stream_info(subjects.TICKS)
    found: list[tuple[str, Tick]] = []
    if not info.state.messages:
        return found
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            raw = await js.get_msg(subjects.TICKS, seq)
        except NotFoundError:
            continue
        assert raw.subject is not None and raw.data is not None
        found.append((raw.subject, _tick.decode(raw.data)))
    return found


async def advance_until(kit: Kit, condition: object, step: float = 0.05,
                        timeout: float = 10.0, message: str = "condition") -> object:
    """Move the fake clock in steps until `condition()` (sync or async) holds."""
    clock = kit.clock
    assert isinstance(clock, FakeClock)

    async def moved() -> object:
        await clock.advance(step)
        result = condition()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        return result

    return await eventually(moved, timeout=timeout, message=message)


# ---- publishing and caching -----------------------------------------------------------------


async def test_ticks_of_a_running_strategy_reach_the_stream_and_the_ltp(kit: Kit) -> None:
    await kit.running_strategy()  # quotes RELIANCE at ₹2,500 in Redis
    async with feeding(kit) as feed:
        assert feed.subscribed == {RELIANCE}

        async def enough() -> bool:
            return len(await stored_ticks(kit.js)) >= 20

        await advance_until(kit, enough, message="20 ticks stored")
    stored = await stored_ticks(kit.js)
    assert {subject for subject, _ in stored} == {"ticks.NSE.RELIANCE"}
    prices = [t.ltp_paise for _, t in stored]
    assert all(p % 5 == 0 and 240_000 <= p <= 260_000 for p in prices)  # walks from ₹2,500
    stamps = [t.exchange_ts for _, t in stored]
    assert stamps == sorted(stamps)
    # Stopping flushed everything: the cache holds the last published price.
    assert await kit.redis.get(redis_keys.ltp("NSE", "RELIANCE")) == str(prices[-1])
    assert feed.ticks_out == len(stored) and feed.ticks_in >= len(stored)


async def test_ticks_nobody_needs_are_dropped(kit: Kit) -> None:
    await kit.running_strategy()
    source = ManualSource()
    async with feeding(kit, [source]) as feed:
        await eventually(lambda: source.subscribed == [{RELIANCE}])
        source.push(250_100, "TCS")  # a source may quote what it was not asked for
        source.push(250_105)
        source.push(250_110, ts=source._ts)  # the same instant again: a duplicate
        source.push(250_000, ts=5)  # older than the last: out of order
        await eventually(lambda: feed.counters()["by_source"]["manual"]["ticks_in"] == 4)
        await eventually(lambda: feed.ticks_out == 1)
        assert feed.dropped == 3
        await eventually(lambda: kit.redis.get(redis_keys.ltp("NSE", "RELIANCE")))
        assert await kit.redis.get(redis_keys.ltp("NSE", "RELIANCE")) == "250105"
        assert await kit.redis.get(redis_keys.ltp("NSE", "TCS")) is None
    assert [(s, t.ltp_paise) for s, t in await stored_ticks(kit.js)] == [
        ("ticks.NSE.RELIANCE", 250_105)]


async def test_subscriptions_follow_starts_stops_and_symbol_changes(kit: Kit) -> None:
    source = ManualSource()
    async with feeding(kit, [source]) as feed:
        assert feed.subscribed == frozenset()
        strategy = await kit.running_strategy()
        await eventually(lambda: feed.subscribed == {RELIANCE}, message="subscribed")
        assert source.subscribed == [{RELIANCE}]

        await kit.strategies.stop(strategy.user_id, strategy.id)
        await eventually(lambda: feed.subscribed == frozenset(), message="unsubscribed")
        assert source.unsubscribed == [{RELIANCE}]

        await kit.set_ltp(250_000, "TCS")
        await kit.strategies.update(strategy.user_id, strategy.id, {"symbol": "TCS"})
        await kit.strategies.start(strategy.user_id, strategy.id)
        await eventually(lambda: feed.subscribed == {TCS}, message="moved to TCS")
        assert source.subscribed[-1] == {TCS}


async def test_the_synthetic_source_stops_quoting_a_stopped_strategy(kit: Kit) -> None:
    strategy = await kit.running_strategy()
    second = await kit.running_strategy("u2@example.com")
    async with feeding(kit) as feed:
        synthetic = feed.runners[0].source
        await advance_until(kit, lambda: feed.ticks_out >= 3)
        await kit.strategies.stop(strategy.user_id, strategy.id)
        await eventually(lambda: feed.tracker.interest.get(strategy.id) is None)
        assert feed.subscribed == {RELIANCE}  # the other strategy still needs it
        await kit.strategies.stop(second.user_id, second.id)
        await eventually(lambda: feed.subscribed == frozenset())
        assert await synthetic.last_price("NSE", "RELIANCE") is None
        delivered = feed.ticks_in
        for _ in range(5):
            await kit.clock.advance(0.2)  # type: ignore[attr-defined]
        assert feed.ticks_in == delivered


# ---- replay -----------------------------------------------------------------------------


async def test_a_replayed_csv_is_published_exactly_and_in_order(kit: Kit, tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text("exchange,symbol,ltp_paise,exchange_ts\n"
                    "NSE,RELIANCE,250000,1000\n"
                    "NSE,TCS,400000,1001\n"
                    "NSE,RELIANCE,249995,2000\n"
                    "NSE,RELIANCE,250010,3000\n")
    await kit.running_strategy()
    async with feeding(kit, feed_sources="replay", feed_replay_path=path,
                       feed_replay_speed="fast") as feed:
        await eventually(lambda: feed.ticks_out == 3)
        await eventually(lambda: feed.runners[0].source.finished)  # type: ignore[attr-defined]
    assert [(s, t.ltp_paise, t.exchange_ts) for s, t in await stored_ticks(kit.js)] == [
        ("ticks.NSE.RELIANCE", 250_000, 1000), ("ticks.NSE.RELIANCE", 249_995, 2000),
        ("ticks.NSE.RELIANCE", 250_010, 3000)]
    assert await kit.redis.get(redis_keys.ltp("NSE", "RELIANCE")) == "250010"


async def test_the_feed_records_the_ticks_it_publishes(kit: Kit, tmp_path: Path) -> None:
    from pipeline.feed.replay import read_ticks
    source = tmp_path / "day.csv"
    source.write_text("exchange,symbol,ltp_paise,exchange_ts\n"
                      "NSE,RELIANCE,250000,1000\n"
                      "NSE,TCS,400000,1001\n"
                      "NSE,RELIANCE,249995,2000\n")
    await kit.running_strategy()
    template = tmp_path / "rec" / "ticks-{day}.jsonl"
    async with feeding(kit, feed_sources="replay", feed_replay_path=source,
                       feed_replay_speed="fast", feed_record_path=template) as feed:
        await eventually(lambda: feed.ticks_out == 2)
    recorded = tmp_path / "rec" / "ticks-2026-11-25.jsonl"
    # What was published (TCS is nobody's), in the format the replay source reads back.
    assert list(read_ticks(recorded)) == [(1000, "NSE", "RELIANCE", 250_000),
                                          (2000, "NSE", "RELIANCE", 249_995)]


async def test_realtime_replay_keeps_the_recorded_spacing(kit: Kit, tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text("exchange,symbol,ltp_paise,exchange_ts\n"
                    "NSE,RELIANCE,250000,0\n"
                    "NSE,RELIANCE,250005,2000000000\n")  # two seconds later
    await kit.running_strategy()
    async with feeding(kit, feed_sources="replay", feed_replay_path=path) as feed:
        await eventually(lambda: feed.ticks_out == 1)
        await kit.clock.advance(1.5)  # type: ignore[attr-defined]
        assert feed.ticks_out == 1
        await advance_until(kit, lambda: feed.ticks_out == 2, step=0.25)


# ---- configuration and restarts ------------------------------------------------------------


async def test_an_unknown_source_name_is_refused_at_start(kit: Kit) -> None:
    ctx = ServiceContext(nc=kit.nc, js=kit.js, sessions=kit.sessions, redis=kit.redis,
                         clock=kit.clock, instance="t",
                         settings=kit.settings.model_copy(update={"feed_sources": "kite"}))
    with pytest.raises(UnknownSource, match="kite"):
        FeedService(ctx)


async def test_a_failed_source_is_restarted_with_backoff_and_resubscribed(kit: Kit) -> None:
    await kit.running_strategy()
    source = ManualSource(fail=1)
    async with feeding(kit, [source]) as feed:
        runner = feed.runners[0]
        await eventually(lambda: runner.stats.restarts == 1, message="a restart")
        assert source.started == 1 and source.closed == 1
        assert runner.backoff.attempt == 1  # waiting up to 0.5 s on the clock
        assert not runner.stats.up
        await advance_until(kit, lambda: source.started == 2, step=0.1)
        await eventually(lambda: runner.stats.up)
        assert source.subscribed == [{RELIANCE}, {RELIANCE}]
        source.push(250_200)
        await eventually(lambda: feed.ticks_out == 1)
        assert runner.backoff.attempt == 0  # delivering again resets the backoff
    assert [t.ltp_paise for _, t in await stored_ticks(kit.js)] == [250_200]


async def test_a_source_that_ends_is_restarted_too(kit: Kit) -> None:
    await kit.running_strategy()
    source = ManualSource()
    async with feeding(kit, [source]) as feed:
        runner = feed.runners[0]
        await eventually(lambda: runner.stats.up)
        source.push(250_000)
        await eventually(lambda: feed.ticks_out == 1)
        source._queue.put_nowait(None)  # the stream ends by itself
        await eventually(lambda: runner.stats.restarts == 1)
        await advance_until(kit, lambda: source.started == 2, step=0.1)
        source.push(250_005)
        await eventually(lambda: feed.ticks_out == 2)


async def test_two_sources_quoting_one_symbol_are_merged(kit: Kit) -> None:
    await kit.running_strategy()
    a, b = ManualSource("a"), ManualSource("b")
    async with feeding(kit, [a, b]) as feed:
        await eventually(lambda: a.subscribed and b.subscribed)
        a.push(250_000, ts=10)
        b.push(250_000, ts=10)  # the same tick from the other source
        b.push(250_005, ts=11)
        a.push(250_005, ts=11)
        a.push(250_010, ts=12)
        await eventually(lambda: feed.ticks_in == 5)
        await eventually(lambda: feed.ticks_out == 3)
    assert [t.exchange_ts for _, t in await stored_ticks(kit.js)] == [10, 11, 12]


async def test_only_running_strategies_are_quoted_at_start(kit: Kit) -> None:
    strategy = await kit.running_strategy(buy=time(9, 30))
    await kit.strategies.stop(strategy.user_id, strategy.id)
    await kit.running_strategy("other@example.com")
    await kit.set_ltp(250_000, "TCS")
    async with feeding(kit, [ManualSource()]) as feed:
        assert feed.subscribed == {RELIANCE}
        counters = feed.counters()
        assert counters["subscribed"] == 1 and set(counters["by_source"]) == {"manual"}
