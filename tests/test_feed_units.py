"""The feed's parts on their own: the synthetic walk, aggregation, backoff, the interest
book, the replay file checks and the source catalogue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from brokers.base import Ticker
from brokers.paper.ticker import PaperTicker
from core import redis_keys
from core.clock import FakeClock
from core.messages import Tick
from core.settings import Settings
from pipeline.feed.aggregate import Aggregator
from pipeline.feed.catalog import build_sources, source_names
from pipeline.feed.errors import FeedConfigError, UnknownSource
from pipeline.feed.interest import Holding, Interest
from pipeline.feed.ltp_cache import LtpCache
from pipeline.feed.replay import ReplaySource, check_file
from pipeline.feed.runner import Backoff
from pipeline.feed.sources import TickSource
from pipeline.feed.synthetic import TICK_PAISE, SyntheticSource, Walk, round_to_tick
from pipeline.feed.ticker import TickerSource
from tests.stubs import eventually

RELIANCE = ("NSE", "RELIANCE")
TCS = ("NSE", "TCS")
START = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)


async def take(source: SyntheticSource, clock: FakeClock, count: int) -> list[Tick]:
    """The first `count` ticks of a started, subscribed source, moving the fake clock."""
    got: list[Tick] = []

    async def collect() -> None:
        async with contextlib.aclosing(source.ticks()) as ticks:
            async for tick in ticks:
                got.append(tick)
                if len(got) == count:
                    return

    task = asyncio.create_task(collect())
    try:
        while not task.done():
            await clock.advance(0.01)
        return got
    finally:
        await source.close()
        await task


async def synthetic(seed: int, *instruments: tuple[str, str],
                    prices: dict[tuple[str, str], int] | None = None,
                    ) -> tuple[SyntheticSource, FakeClock]:
    clock = FakeClock(START)

    async def lookup(wanted: list[tuple[str, str]]) -> list[int | None]:
        return [(prices or {}).get(i) for i in wanted]

    source = SyntheticSource(clock, rate=100, seed=seed, prices=lookup)
    await source.start()
    await source.subscribe(set(instruments))
    return source, clock


# ---- synthetic ----------------------------------------------------------------------------


async def test_the_same_seed_gives_the_same_prices() -> None:
    first, clock1 = await synthetic(7, RELIANCE, TCS)
    second, clock2 = await synthetic(7, TCS, RELIANCE)  # subscription order does not matter
    other, clock3 = await synthetic(8, RELIANCE, TCS)
    a = await take(first, clock1, 40)
    b = await take(second, clock2, 40)
    c = await take(other, clock3, 40)
    assert [(t.symbol, t.ltp_paise) for t in a] == [(t.symbol, t.ltp_paise) for t in b]
    assert [t.ltp_paise for t in a] != [t.ltp_paise for t in c]
    assert {t.symbol for t in a} == {"RELIANCE", "TCS"}
    # Round-robin, and the symbols' walks do not stay put.
    assert [t.symbol for t in a[:4]] == ["RELIANCE", "TCS", "RELIANCE", "TCS"]
    assert len({t.ltp_paise for t in a if t.symbol == "TCS"}) > 1


async def test_prices_are_on_the_tick_in_a_realistic_range_and_timestamps_rise() -> None:
    source, clock = await synthetic(3, RELIANCE, TCS, ("NSE", "INFY"))
    ticks = await take(source, clock, 90)
    assert all(t.ltp_paise % TICK_PAISE == 0 for t in ticks)
    assert all(10_000 * 0.8 <= t.ltp_paise <= 500_000 * 1.2 for t in ticks)
    stamps = [t.exchange_ts for t in ticks]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    # 100 ticks/s in all: 90 ticks span 0.89 s of the clock.
    assert (stamps[-1] - stamps[0]) == pytest.approx(0.89e9, rel=0.01)
    start_ns = int(START.timestamp() * 1e9)
    assert start_ns <= stamps[0] <= start_ns + 50_000_000  # from the clock, not the host


async def test_the_walk_starts_from_the_redis_price_and_last_price_follows_it() -> None:
    source, clock = await synthetic(7, RELIANCE, prices={RELIANCE: 250_000})
    assert await source.last_price("NSE", "RELIANCE") == 250_000
    ticks = await take(source, clock, 20)
    assert all(240_000 <= t.ltp_paise <= 260_000 for t in ticks)
    assert await source.last_price("NSE", "RELIANCE") == ticks[-1].ltp_paise
    assert await source.last_price("NSE", "TCS") is None
    await source.unsubscribe({RELIANCE})
    assert await source.last_price("NSE", "RELIANCE") is None


def test_rounding_to_the_five_paise_tick() -> None:
    assert [round_to_tick(p) for p in (250_002.4, 250_002.5, 250_007.49, 1.0, 0.0)] == [
        250_000, 250_005, 250_005, 5, 5]
    walk = Walk(7, RELIANCE, 250_003)
    assert walk.price == 250_005
    assert all(walk.step() % 5 == 0 for _ in range(1000))


# ---- aggregation --------------------------------------------------------------------------


def _tick(ts: int, paise: int = 100_000, symbol: str = "RELIANCE") -> Tick:
    return Tick(exchange="NSE", symbol=symbol, ltp_paise=paise, exchange_ts=ts, received_ts=ts)


def test_aggregation_keeps_the_newest_and_drops_duplicates_and_stale_ticks() -> None:
    agg = Aggregator()
    agg.open([RELIANCE])
    slot = agg.accept(_tick(10))
    assert slot is not None and slot.subject == "ticks.NSE.RELIANCE"
    assert slot.ltp_key == redis_keys.ltp("NSE", "RELIANCE")
    assert agg.accept(_tick(10, 100_005)) is None  # duplicate (another source, same instant)
    assert agg.accept(_tick(9, 99_995)) is None  # out of order
    assert agg.accept(_tick(11)) is slot
    assert agg.last_ts(RELIANCE) == 11
    assert agg.accept(_tick(12, symbol="TCS")) is None  # nobody needs it
    agg.close([RELIANCE])
    assert agg.accept(_tick(13)) is None
    assert RELIANCE not in agg and len(agg) == 0


# ---- backoff ------------------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_to_thirty_with_full_jitter() -> None:
    top = Backoff(jitter=lambda: 1.0)
    assert [top.next_delay() for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    top.reset()
    assert top.next_delay() == 0.5
    low = Backoff(jitter=lambda: 0.0)
    assert low.next_delay() == 0.0
    real = Backoff()
    for _ in range(5):
        real.next_delay()
    assert 0 <= real.next_delay() <= 16


# ---- interest -----------------------------------------------------------------------------


def _holding(sid: str, rev: int, instrument: tuple[str, str] = RELIANCE, *,
             bought: bool = False) -> Holding:
    return Holding(user_id="usr_1", strategy_id=sid, instrument=instrument, rev=rev,
                   bought=bought, paper=True)


def test_interest_counts_strategies_per_instrument_and_guards_revs() -> None:
    book = Interest()
    assert book.hold(_holding("a", 1))
    assert book.hold(_holding("b", 1, bought=True))
    assert set(book.instruments) == {RELIANCE}
    assert [h.strategy_id for h in book.armed(RELIANCE)] == ["b"]
    assert not book.hold(_holding("a", 1, TCS))  # not newer
    assert book.hold(_holding("a", 2, TCS))  # a symbol change moves the need
    assert set(book.instruments) == {RELIANCE, TCS}
    assert book.drop("b", 2)
    assert set(book.instruments) == {TCS}
    assert not book.hold(_holding("b", 1))  # an old record cannot revive a dropped one
    assert not book.drop("a", 1)
    assert book.drop("a", 3)
    assert set(book.instruments) == set() and len(book) == 0


# ---- LTP cache ----------------------------------------------------------------------------


async def test_ltp_writes_are_coalesced(redis: Redis) -> None:
    clock = FakeClock(START)
    cache = LtpCache(redis, clock, 0.1, logging.getLogger("test"))
    key = redis_keys.ltp("NSE", "RELIANCE")
    writer = asyncio.create_task(cache.run())
    try:
        for paise in range(250_000, 250_500, 5):  # 100 ticks before the writer runs
            cache.note(key, paise)
        await eventually(lambda: cache.flushes == 1)
        assert await redis.get(key) == "250495"
        assert cache.writes == 1
        for paise in (251_000, 251_005, 251_010):  # within the interval: held back
            cache.note(key, paise)
        await asyncio.sleep(0)
        assert cache.flushes == 1 and await redis.get(key) == "250495"
        await clock.advance(0.1)
        await eventually(lambda: cache.flushes == 2)
        assert await redis.get(key) == "251010"
        assert cache.writes == 2
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


# ---- replay files and the catalogue -------------------------------------------------------


async def test_replay_reads_jsonl_and_skips_unreadable_rows(tmp_path: Path) -> None:
    path = tmp_path / "ticks.jsonl"
    path.write_text(
        '{"exchange":"NSE","symbol":"RELIANCE","ltp_paise":250000,"exchange_ts":1}\n'
        'not json\n'
        '{"exchange":"NSE","symbol":"TCS","ltp_paise":400000,"exchange_ts":2}\n'
        '{"exchange":"NSE","symbol":"RELIANCE","ltp_paise":250005,"exchange_ts":3,'
        '"received_ts":3,"v":1}\n')
    check_file(path)
    clock = FakeClock(START)
    source = ReplaySource(clock, path, speed="fast")
    await source.start()
    await source.subscribe({RELIANCE})
    got: list[Tick] = []
    ticks: AsyncIterator[Tick] = source.ticks()
    got.append(await anext(ticks))
    got.append(await anext(ticks))
    assert [(t.symbol, t.ltp_paise, t.exchange_ts) for t in got] == [
        ("RELIANCE", 250_000, 1), ("RELIANCE", 250_005, 3)]
    assert source.bad_rows == 1
    assert await source.last_price("NSE", "RELIANCE") == 250_005
    ending = asyncio.ensure_future(anext(ticks))
    await eventually(lambda: source.finished)
    assert not ending.done()  # idle at the end of the file, not ended
    await source.close()
    with pytest.raises(StopAsyncIteration):
        await ending


def test_bad_replay_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FeedConfigError, match="does not exist"):
        check_file(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("symbol,price\nRELIANCE,1\n")
    with pytest.raises(FeedConfigError, match="header"):
        check_file(wrong)
    odd = tmp_path / "ticks.txt"
    odd.write_text("")
    with pytest.raises(FeedConfigError, match=r"\.csv"):
        check_file(odd)


def test_unknown_sources_are_refused_clearly(settings: Settings, redis: Redis) -> None:
    assert source_names("synthetic, replay,synthetic") == ["synthetic", "replay"]
    with pytest.raises(UnknownSource, match=r"nope.*choose from synthetic, replay"):
        source_names("synthetic,nope")
    with pytest.raises(FeedConfigError, match="names no source"):
        source_names(" , ")
    clock = FakeClock(START)
    log = logging.getLogger("test")
    replay = settings.model_copy(update={"feed_sources": "replay"})
    with pytest.raises(FeedConfigError, match="ALGO_FEED_REPLAY_PATH"):
        build_sources(replay, clock, redis, log)
    assert [s.name for s in build_sources(settings, clock, redis, log)] == ["synthetic"]


async def test_a_broker_ticker_fits_the_source_interface(redis: Redis) -> None:
    clock = FakeClock(START)
    await redis.set(redis_keys.ltp("NSE", "RELIANCE"), 250_000)
    made: list[PaperTicker] = []

    async def connect() -> Ticker:
        made.append(PaperTicker(redis, clock, interval_s=0.2))
        return made[-1]

    async def rest_ltp(exchange: str, symbol: str) -> int:
        return 250_005

    source: TickSource = TickerSource("paper", connect, get_ltp=rest_ltp)
    await source.start()
    await source.subscribe({RELIANCE})
    ticks = source.ticks()
    tick = await anext(ticks)
    assert (tick.symbol, tick.ltp_paise) == ("RELIANCE", 250_000)
    assert await source.last_price("NSE", "RELIANCE") == 250_005
    await source.close()
    with pytest.raises(StopAsyncIteration):
        await anext(ticks)
    await source.start()  # a restart opens a new ticker with the same subscriptions
    assert len(made) == 2
    again = source.ticks()
    assert await anext(again) == tick  # the new ticker's first price (the clock stood still)
    await source.unsubscribe({RELIANCE})
    await source.close()
    with pytest.raises(StopAsyncIteration):
        await anext(again)
