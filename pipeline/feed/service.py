"""The feed role (RUN-2, RUN-3): tick sources → `ticks.>` and the LTP cache.

    EVENTS ─► InterestTracker ◄─ Redis snapshot + resync
                   │ needed instruments (subscribe / unsubscribe)
                   ▼
    sources ─► SourceRunner ─► TickPipe: Aggregator ─► TickPublisher ─► ticks.> (core NATS)
      ▲  (restart, backoff)                    └──────► LtpCache ─► ltp:… (Redis, coalesced)
      └── last_price ◄─ Watchdog (stale instrument with an armed stop-loss: poll, alert)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence, Set
from typing import Any

from core.aio import cancel_and_wait
from core.events import EventPublisher
from core.market import MarketHours
from pipeline.context import ServiceContext
from pipeline.feed.aggregate import Aggregator
from pipeline.feed.catalog import build_sources
from pipeline.feed.errors import FeedConfigError
from pipeline.feed.ltp_cache import LtpCache
from pipeline.feed.pipe import TickPipe
from pipeline.feed.publisher import TickPublisher
from pipeline.feed.recorder import TickRecorder, recording_path
from pipeline.feed.runner import SourceRunner
from pipeline.feed.sources import Instrument, TickSource
from pipeline.feed.tracking import RESYNC_INTERVAL_S, InterestTracker
from pipeline.feed.watchdog import Watchdog
from pipeline.service import Service


class FeedService(Service):
    """Publishes normalised ticks from broker, synthetic and replay sources."""

    role = "feed"
    description = "tick sources to ticks.>, LTP cache"

    def __init__(self, ctx: ServiceContext, sources: Sequence[TickSource] | None = None, *,
                 resync_interval_s: float = RESYNC_INTERVAL_S) -> None:
        """`sources` replaces the ones `feed_sources` names (tests, embedding)."""
        super().__init__(ctx)
        settings = ctx.settings
        chosen = list(sources) if sources is not None \
            else build_sources(settings, ctx.clock, ctx.redis, self.log, ctx.sessions)
        names = [s.name for s in chosen]
        if len(set(names)) != len(names):
            raise FeedConfigError(f"feed source names must differ: {names}")
        self.aggregator = Aggregator()
        self.publisher = TickPublisher(ctx.nc, self.log)
        self.ltp = LtpCache(ctx.redis, ctx.clock, settings.feed_ltp_interval_ms / 1000,
                            self.log)
        self.recorder = None if settings.feed_record_path is None else TickRecorder(
            recording_path(settings.feed_record_path, ctx.clock))
        self.pipe = TickPipe(self.aggregator, self.publisher, self.ltp, self.recorder)
        self.tracker = InterestTracker(ctx.js, ctx.redis, ctx.clock, self.log,
                                       self._on_change, resync_interval_s=resync_interval_s)
        self.runners = [SourceRunner(s, self.pipe, ctx.clock, self.log, self._wanted)
                        for s in chosen]
        self.watchdog = Watchdog(
            aggregator=self.aggregator, interest=self.tracker.interest, pipe=self.pipe,
            sources=lambda: [r.source for r in self.runners],
            market=MarketHours(ctx.sessions, ctx.clock,
                               paper_always_open=settings.paper_always_open),
            events=EventPublisher(ctx.js, ctx.clock), clock=ctx.clock, log=self.log,
            stale_s=settings.feed_stale_s)
        self._writers: list[asyncio.Task[None]] = []
        self._tasks: list[asyncio.Task[None]] = []

    # ---- read-only facts for health and metrics -----------------------------------------

    @property
    def subscribed(self) -> frozenset[Instrument]:
        """The instruments quoted now: those some running strategy needs."""
        return frozenset(self.aggregator)

    @property
    def ticks_in(self) -> int:
        """Ticks the sources delivered."""
        return sum(r.stats.ticks_in for r in self.runners)

    @property
    def ticks_out(self) -> int:
        """Ticks published (the sources' and the watchdog's polled ones)."""
        return self.publisher.published

    @property
    def dropped(self) -> int:
        """Ticks not published: not needed, duplicated, out of order, or shed."""
        return sum(r.stats.dropped for r in self.runners) + self.publisher.shed

    def counters(self) -> dict[str, Any]:
        """Every counter, for metrics."""
        return {
            "ticks_in": self.ticks_in, "ticks_out": self.ticks_out, "dropped": self.dropped,
            "shed": self.publisher.shed, "polled": self.watchdog.polled,
            "poll_failures": self.watchdog.poll_failures,
            "ltp_writes": self.ltp.writes, "subscribed": len(self.aggregator),
            "polling": len(self.watchdog.polling),
            "by_source": {r.source.name: {"ticks_in": r.stats.ticks_in,
                                          "dropped": r.stats.dropped,
                                          "restarts": r.stats.restarts, "up": r.stats.up}
                          for r in self.runners},
        }

    # ---- lifecycle ---------------------------------------------------------------------

    async def on_start(self) -> None:
        """Follow events, load the snapshot, then run the sources and the watchdog."""
        try:
            self._writers = [self._task(self.publisher.run(), "feed-publisher"),
                             self._task(self.ltp.run(), "feed-ltp")]
            await self.tracker.follow()  # before the snapshot: no change falls between
            await self.tracker.load()
            self._tasks = [self._task(r.run(), f"feed-source-{r.source.name}")
                           for r in self.runners]
            self._tasks += [self._task(self.tracker.run_events(), "feed-events"),
                            self._task(self.tracker.run_resync(), "feed-resync"),
                            self._task(self.watchdog.run(), "feed-watchdog")]
        except BaseException:
            await self.on_stop()
            raise
        self.log.info("feed started", extra={
            "sources": [r.source.name for r in self.runners],
            "subscribed": len(self.aggregator)})

    async def on_stop(self) -> None:
        """Stop the sources and followers, publish what is buffered, write the last LTPs."""
        with contextlib.suppress(Exception):
            await self.tracker.close()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        for runner in self.runners:
            await runner.stop()
        await self.watchdog.drain(self.ctx.settings.shutdown_timeout_s)
        await cancel_and_wait(self._writers)
        self._writers = []
        with contextlib.suppress(Exception):
            await self.publisher.flush()
        with contextlib.suppress(Exception):
            await self.ltp.flush()
        if self.recorder is not None:
            self.recorder.close()

    # ---- interest ----------------------------------------------------------------------

    def _wanted(self) -> Set[Instrument]:
        return self.tracker.interest.instruments

    async def _on_change(self, added: set[Instrument], removed: set[Instrument]) -> None:
        """Quote what is newly needed (its ticks pass at once), stop what is not."""
        self.aggregator.open(added)
        if added:
            await asyncio.gather(*(r.subscribe(added) for r in self.runners))
        if removed:
            await asyncio.gather(*(r.unsubscribe(removed) for r in self.runners))
        self.aggregator.close(removed)
        self.log.info("feed subscriptions changed", extra={
            "added": len(added), "removed": len(removed), "subscribed": len(self.aggregator)})

    @staticmethod
    def _task(work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.create_task(work, name=name)
