"""The readiness refresh: only the connections that matter, results applied as they come,
a hanging broker never holding up a held BUY's probe, and no request lost mid-pass."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from core.clock import FakeClock
from core.connections.health import Health, HealthStore
from core.connections.probe import Prober
from core.crypto import SecretBox
from core.db.enums import OrderAction
from core.db.models import BrokerCredential
from pipeline.trigger.book import Book
from pipeline.trigger.readiness import Readiness
from pipeline.trigger.refresh import RefreshLoop
from tests.test_readiness_gate import connection
from tests.test_trigger import World, ist
from tests.test_trigger import world_factory as world_factory  # the fixture
from tests.test_trigger_schedule import DAY, record

LOG = logging.getLogger("test")


class Checker:
    """A connector whose check fails unexpectedly for the token "bad"."""

    broker_type = "zerodha"

    async def check(self, secrets: Any, access_token: str) -> None:
        if access_token == "bad":
            raise RuntimeError("a connector bug")


async def _rows(world: World, ids: Iterable[str]) -> list[BrokerCredential]:
    async with world.sessions() as session:
        return [await session.get_one(BrokerCredential, i) for i in ids]


async def test_one_failing_probe_spares_the_others(world_factory: Any, redis: Redis) -> None:
    world: World = await world_factory(ist(9, 29))
    good = await connection(world)
    bad = await connection(world, token="bad")
    prober = Prober(world.sessions, SecretBox(world.settings.encryption_key_map),
                    {"zerodha": Checker()}, HealthStore(redis), world.clock)  # type: ignore[dict-item]
    found = await prober.probe(await _rows(world, [bad, good]))
    assert set(found) == {good} and found[good].reachable


class SlowBroker:
    """Hangs on every connection but `answers`, which it finds unreachable."""

    def __init__(self, clock: FakeClock, answers: str) -> None:
        self.clock = clock
        self.answers = answers
        self.asked: list[str] = []

    async def probe(self, rows: Iterable[BrokerCredential]) -> dict[str, Health]:
        [row] = list(rows)
        self.asked.append(row.id)
        if row.id != self.answers:
            await asyncio.Event().wait()
        return {row.id: Health(reachable=False, checked_at=self.clock.now().timestamp(),
                               reason="HTTP 503")}


async def test_a_hanging_broker_never_holds_up_a_held_buys_probe(
        world_factory: Any, redis: Redis) -> None:
    world: World = await world_factory(ist(9, 29))
    held = await connection(world)
    hanging = [await connection(world) for _ in range(12)]
    prober = SlowBroker(world.clock, answers=held)
    readiness = Readiness(world.sessions, HealthStore(redis), prober, world.clock, LOG,
                          probe_lead_s=60)
    try:
        # The BUYs coming up are probed in the background; the held one is awaited.
        await asyncio.wait_for(readiness.refresh(hanging, due_soon=hanging, held=[held]), 5)
        now = world.clock.now()
        assert readiness.check(record(broker=hanging[0]), now) is None  # its state is in
        verdict = readiness.check(record(broker=held), now)
        assert verdict is not None and "HTTP 503" in verdict.reason
        assert prober.asked[0] == held
        # Still hanging a refresh later: not probed twice at once, the held one again.
        await world.clock.advance(6)
        await asyncio.wait_for(readiness.refresh(hanging, due_soon=hanging, held=[held]), 5)
        assert prober.asked.count(held) == 2
        others = [c for c in prober.asked if c != held]
        assert len(others) == len(set(others)) == 4  # a few at a time, none twice
    finally:
        await readiness.close()


def _book(now: Any) -> Book:
    book = Book(paper_always_open=False)
    book.hold(record("str_soon", broker="brk_soon"))
    book.hold(record("str_later", buy="14:00:00", sell="15:00:00", broker="brk_later"))
    book.hold(record("str_paper"))
    book.begin_day(DAY, market_open=True, done=[], now=now)
    return book


def test_the_book_knows_the_connections_near_without_a_scan() -> None:
    book = _book(ist(9, 0))
    assert book.take_armed() == {"brk_soon", "brk_later"}  # read once, the first pass
    assert book.take_armed() == set()
    assert book.brokers_near(ist(9, 0, 59)) == {}
    assert book.brokers_near(ist(9, 31)) == {"brk_soon": ist(9, 30)}
    book.arm(record("str_soon", buy="09:40:00", rev=2, broker="brk_soon"), ist(9, 1))
    assert book.brokers_near(ist(9, 31)) == {}
    assert book.brokers_near(ist(9, 41)) == {"brk_soon": ist(9, 40)}
    book.mark_done(("str_soon", OrderAction.BUY))
    assert book.brokers_near(ist(16, 0)) == {"brk_later": ist(14, 0)}


class Recorder:
    """A Readiness stand-in: records each refresh; the first may be made to block."""

    def __init__(self) -> None:
        self.wanted = asyncio.Event()
        self.calls: list[set[str]] = []
        self.release = asyncio.Event()
        self.block_first = False

    async def refresh(self, ids: Iterable[str], **_: Any) -> None:
        self.calls.append(set(ids))
        if self.block_first and len(self.calls) == 1:
            await self.release.wait()


async def _until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met")


async def test_a_request_made_during_a_refresh_brings_another() -> None:
    clock = FakeClock(ist(9, 0))
    book = _book(clock.now())
    readiness = Recorder()
    readiness.block_first = True
    loop = RefreshLoop(book, readiness, clock, LOG, interval_s=5,  # type: ignore[arg-type]
                       lead_s=60, deadline_s=15, on_held=lambda: None)
    task = asyncio.create_task(loop.run())
    try:
        await _until(lambda: len(readiness.calls) == 1)
        readiness.wanted.set()  # e.g. a strategy on a new connection was armed
        readiness.release.set()
        await _until(lambda: len(readiness.calls) == 2)  # at once: the clock never moved
        assert readiness.calls == [{"brk_soon", "brk_later"}, set()]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_no_refresh_work_right_before_a_fire() -> None:
    clock = FakeClock(ist(9, 29, 59))
    book = _book(ist(9, 0))
    await clock.advance(0.95)  # the 09:30 BUY is 50 ms away
    readiness = Recorder()
    loop = RefreshLoop(book, readiness, clock, LOG, interval_s=5,  # type: ignore[arg-type]
                       lead_s=60, deadline_s=15, on_held=lambda: None)
    task = asyncio.create_task(loop.run())
    try:
        for _ in range(20):
            await asyncio.sleep(0)
        assert readiness.calls == []
        await clock.advance(0.05)
        await _until(lambda: len(readiness.calls) == 1)
        assert clock.now() >= ist(9, 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
