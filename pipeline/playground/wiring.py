"""The pipeline's own components, built for one replay on its fake clock and its bus.

The same classes the trigger, slwatch and executor roles run — the trigger's Book and
Firer, the watcher's Arming, StopIndex, Watcher and Firer, the executor's CommandHandler
with its Placer, locks and the paper broker — only their JetStream is the replay's
LocalBus and their Redis the replay's scratch db. The per-account order rate is lifted (a
simulation has no broker to protect); everything else is the production configuration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.factory import BrokerFactory
from core.clock import FakeClock
from core.events import EventPublisher
from core.halts import HaltStore
from core.market import MarketHours
from core.ratelimit import Rate, RateLimiter
from core.redis import create_redis
from core.settings import Settings
from core.strategies.runtime import RuntimeStore, StrategyRuntime
from pipeline.executor.handler import CommandHandler
from pipeline.executor.locks import OrderLocks
from pipeline.executor.placement import Placer
from pipeline.playground.bus import LocalBus
from pipeline.slwatch.arming import Arming
from pipeline.slwatch.exits import ExitLedger
from pipeline.slwatch.firing import Firer as ExitFirer
from pipeline.slwatch.index import StopIndex
from pipeline.slwatch.metrics import Metrics
from pipeline.slwatch.partition import Partition
from pipeline.slwatch.snapshot import Snapshot
from pipeline.slwatch.watcher import Watcher
from pipeline.trigger.book import Book
from pipeline.trigger.firing import Firer as EntryFirer

UNLIMITED: Final = Rate(limit=1_000_000_000, window_s=1.0)


class DayMarketHours(MarketHours):
    """The calendar loaded once: a replayed day's sessions do not change while it plays
    (the live refresh, keyed to the clock, would reload at every jump of the fake clock)."""

    async def refresh(self, *, force: bool = False) -> None:
        """Load the calendar the first time (or when forced)."""
        if force or self._calendar is None:
            await super().refresh(force=True)


@dataclass
class Pipeline:
    """One replay's trigger, watcher and executor parts."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    clock: FakeClock
    log: logging.Logger
    bus: LocalBus = field(default_factory=LocalBus)

    def __post_init__(self) -> None:
        js = self.bus.as_jetstream()
        s, clock, redis = self.settings, self.clock, self.redis
        self.runtime = RuntimeStore(redis)
        # trigger
        self.book = Book(paper_always_open=s.paper_always_open)
        self.entries = EntryFirer(js, redis, clock, self.log)
        # slwatch
        partition = Partition.parse("0/1")
        self.index: StopIndex[StrategyRuntime] = StopIndex()
        self.ledger = ExitLedger()
        self.metrics = Metrics()
        self.arming = Arming(self.runtime, Snapshot(redis), self.index, self.ledger,
                             partition, clock, self.log)
        self.exits = ExitFirer(js, clock, self.log, self.ledger, self.metrics)
        self.watcher = Watcher(self.index, self.exits, partition, self.metrics, self.log)
        # executor
        self.brokers = BrokerFactory(s, self.sessions, redis, clock)
        halts = HaltStore(self.sessions, redis)
        placer = Placer(clock, halts, RateLimiter(redis), UNLIMITED,
                        fill_timeout_s=s.executor_fill_timeout_s)
        self.market = DayMarketHours(self.sessions, clock,
                                     paper_always_open=s.paper_always_open)
        self.handler = CommandHandler(self.sessions, js, clock, self.brokers, placer,
                                      OrderLocks(redis, s.order_lock_ttl_s), self.market,
                                      self.runtime, EventPublisher(js, clock), halts)

    async def close(self) -> None:
        """Release the brokers."""
        await self.brokers.close()


def scratch_url(redis_url: str, db: int) -> str:
    """`redis_url` pointing at db `db`; refuses the live system's own db."""
    parts = urlsplit(redis_url)
    live = int(parts.path.strip("/") or 0)
    if live == db:
        raise ValueError(f"the replay's Redis db {db} is the live system's db")
    return urlunsplit(parts._replace(path=f"/{db}"))


def scratch_redis(settings: Settings, redis_url: str) -> Redis:
    """A client on the replay's scratch db (ALGO_PLAYGROUND_REDIS_DB)."""
    return create_redis(scratch_url(redis_url, settings.playground_redis_db))
