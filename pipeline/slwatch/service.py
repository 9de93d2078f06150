"""The slwatch role (RUN-4, STR-5): armed stop-losses, targets and trailing stops in memory;
a breaching tick becomes an exit command on `cmd.order.>`.

    EVENTS ─► EventFollower ─┐
    Redis snapshot + resync ─┴► Arming ─► StopIndex ◄─ Watcher ◄─ ticks.> (core NATS)
                                                         │ breaches
                                                         ▼
                                 Firer ─► COMMANDS (awaited ack) ─► SL_TRIGGERED event
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from nats.aio.subscription import Subscription

from core import subjects
from core.aio import cancel_and_wait
from core.strategies.runtime import RuntimeStore, StrategyRuntime
from pipeline.context import ServiceContext
from pipeline.follower import EventFollower
from pipeline.service import Service
from pipeline.slwatch.arming import FOLLOWED, Arming
from pipeline.slwatch.exits import ExitLedger
from pipeline.slwatch.firing import Firer
from pipeline.slwatch.index import StopIndex
from pipeline.slwatch.metrics import Metrics
from pipeline.slwatch.partition import Partition
from pipeline.slwatch.snapshot import Snapshot
from pipeline.slwatch.watcher import Watcher

RESYNC_INTERVAL_S: Final = 5.0


class SlWatchService(Service):
    """Keeps the armed stop-losses in memory and reacts to every tick."""

    role = "slwatch"
    description = "armed stop-losses; tick breach to cmd.order.>"

    def __init__(self, ctx: ServiceContext, *,
                 resync_interval_s: float = RESYNC_INTERVAL_S) -> None:
        super().__init__(ctx)
        self.partition = Partition.parse(ctx.settings.slwatch_partition)
        self.index: StopIndex[StrategyRuntime] = StopIndex()
        self.ledger = ExitLedger()
        self.metrics = Metrics()
        self.arming = Arming(RuntimeStore(ctx.redis), Snapshot(ctx.redis), self.index,
                             self.ledger, self.partition, ctx.clock, self.log)
        self.firer = Firer(ctx.js, ctx.clock, self.log, self.ledger, self.metrics)
        self.watcher = Watcher(self.index, self.firer, self.partition, self.metrics, self.log)
        self._follower = EventFollower(ctx.js, self.log, FOLLOWED)
        self._resync_interval_s = resync_interval_s
        self._ticks: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def armed(self) -> int:
        """How many strategies have an armed exit."""
        return len(self.index)

    async def on_start(self) -> None:
        """Follow events, load the snapshot, then watch ticks and resync now and then."""
        try:
            await self._follower.subscribe()  # before the snapshot: no change falls between
            await self.arming.load()
            self._tasks = [
                asyncio.create_task(self._follower.run(self.arming.on_events),
                                    name="slwatch-events"),
                asyncio.create_task(self._resync_forever(), name="slwatch-resync"),
            ]
            # A plain subscription: the fastest path; ticks are also kept in TICKS.
            self._ticks = await self.ctx.nc.subscribe(subjects.TICKS_ALL,
                                                      cb=self.watcher.on_msg)
        except BaseException:
            await self.on_stop()
            raise
        self.log.info("slwatch started", extra={"armed": self.armed,
                                                "partition": self.ctx.settings.slwatch_partition})

    async def on_stop(self) -> None:
        """Stop taking ticks and events, then let the exits in flight reach the stream."""
        if self._ticks is not None:
            ticks, self._ticks = self._ticks, None
            with contextlib.suppress(Exception):
                await ticks.unsubscribe()
        with contextlib.suppress(Exception):
            await self._follower.close()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        # An exit cut short is not lost: its position is still BOUGHT in Redis, so the next
        # replica arms it from the snapshot and the next breaching tick publishes again.
        await self.firer.drain(self.ctx.settings.shutdown_timeout_s)

    async def _resync_forever(self) -> None:
        while True:
            await self.ctx.clock.sleep(self._resync_interval_s)
            try:
                await self.arming.resync()
            except Exception as exc:  # noqa: BLE001 — Redis down: try again next time
                self.log.warning("resync failed: %s", exc)
