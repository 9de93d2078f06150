"""The stale-feed watchdog (RUN-3): an armed stop-loss must never wait on a silent feed.

Once a second, during market hours, it looks at every subscribed instrument: one with an
open position (an armed stop-loss) and no tick for `stale_s` switches to polling — every
second the first source that can quote it is asked for its price by a request of its own,
and the price is published as a tick (the stop-loss watcher keeps working) and written as
the LTP. Each affected strategy's user gets an ERROR event (kind `feed_stale`) and the
admins one alert (`SYSTEM_USER`). When the feed's own ticks resume, polling stops and the
same people are told (a NOTIFICATION of kind `feed_recovered`). Staleness is read from the
aggregator's newest exchange timestamp once a second, so it costs the tick path nothing;
polled ticks bypass the aggregator, so they never pass for the feed's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from core.aio import Background, check_cancelled
from core.clock import Clock, now_ist
from core.events import SYSTEM_USER, EventPublisher, EventType
from core.market import MarketHours
from core.messages import Event
from core.trace import new_trace_id, set_trace_id
from pipeline.feed.aggregate import Aggregator
from pipeline.feed.interest import Holding, Interest
from pipeline.feed.pipe import TickPipe
from pipeline.feed.sources import Instrument, TickSource, epoch_ns
from pipeline.retry import retry_forever

INTERVAL_S: Final = 1.0
"""How often staleness is checked and stale instruments are polled."""
POLL_TIMEOUT_S: Final = 2.0
STALE: Final = "feed_stale"
RECOVERED: Final = "feed_recovered"
RECOVERED_TYPE: Final = EventType.NOTIFICATION
"""Recovery is good news, not an error."""


@dataclass(slots=True)
class Episode:
    """One instrument's spell of polling."""

    since: float
    """Monotonic instant of its last own tick (or of the subscription)."""
    told: list[Holding]
    """The strategies whose users were alerted."""
    polls: int = 0
    failures: int = 0
    sources: set[str] = field(default_factory=set)


class Watchdog:
    """Switches stale instruments with armed stop-losses to polling, and back."""

    def __init__(self, *, aggregator: Aggregator, interest: Interest, pipe: TickPipe,
                 sources: Callable[[], Sequence[TickSource]], market: MarketHours,
                 events: EventPublisher, clock: Clock, log: logging.Logger,
                 stale_s: float) -> None:
        self._aggregator = aggregator
        self._interest = interest
        self._pipe = pipe
        self._sources = sources
        self._market = market
        self._events = events
        self._clock = clock
        self._log = log
        self._stale_s = stale_s
        self._seen: dict[Instrument, tuple[int, float]] = {}
        """Per instrument: the newest exchange timestamp seen, and since when."""
        self.polling: dict[Instrument, Episode] = {}
        self._calendar_failing = False
        self._side_effects = Background(log, "feed alert")
        self.polled = 0
        """Polled prices published as ticks."""
        self.poll_failures = 0
        self.alerts = 0
        """Stale episodes begun."""

    async def run(self) -> None:
        """Check once a second for ever (a task)."""
        while True:
            await self._clock.sleep(INTERVAL_S)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 — logged with its traceback; check again later
                self._log.exception("feed watchdog check failed")
            check_cancelled()

    async def check(self) -> None:
        """One round: notice resumed and stale instruments, then poll the stale ones."""
        now = self._clock.monotonic()
        aggregator = self._aggregator
        stale: list[tuple[Instrument, float]] = []
        for instrument in aggregator:
            ts = aggregator.last_ts(instrument)
            assert ts is not None
            seen = self._seen.get(instrument)
            if seen is None or seen[0] != ts:
                self._seen[instrument] = (ts, now)
                if seen is not None and instrument in self.polling:
                    self._recover(instrument, now)
            elif now - seen[1] >= self._stale_s and instrument not in self.polling:
                stale.append((instrument, seen[1]))
        for instrument in [i for i in self._seen if i not in aggregator]:
            del self._seen[instrument]
            self._end(instrument, "no longer subscribed")
        for instrument, since in stale:
            armed = self._interest.armed(instrument)
            if not armed:
                continue
            if await self._market_open(armed):
                self._go_stale(instrument, since, now, armed)
            else:  # silence counts in session only: no alert the moment the market opens
                self._seen[instrument] = (self._seen[instrument][0], now)
        for instrument in list(self.polling):
            armed = self._interest.armed(instrument)
            if not armed:
                self._end(instrument, "no open position left")
            elif not await self._market_open(armed):
                self._end(instrument, "market closed")
        if self.polling:
            await self._poll_all()

    async def drain(self, timeout_s: float) -> None:
        """Let alerts in flight reach the stream, then cancel what is left."""
        await self._side_effects.drain(timeout_s)

    # ---- switching ---------------------------------------------------------------------

    def _go_stale(self, instrument: Instrument, since: float, now: float,
                  armed: list[Holding]) -> None:
        self.polling[instrument] = Episode(since=since, told=armed)
        self.alerts += 1
        exchange, symbol = instrument
        quiet_s = round(now - since, 1)
        self._log.warning("feed stale; polling prices", extra={
            "exchange": exchange, "symbol": symbol, "stale_s": quiet_s,
            "strategies": len(armed)})
        message = (f"No price ticks for {exchange}:{symbol} for {quiet_s:g} s. Its stop-loss "
                   f"is watched on prices polled every second until the feed recovers.")
        base = {"kind": STALE, "exchange": exchange, "symbol": symbol, "stale_s": quiet_s}
        events = [self._events.build(EventType.ERROR, user_id=h.user_id,
                                     strategy_id=h.strategy_id, rev=h.rev,
                                     data={**base, "message": message}) for h in armed]
        events.append(self._events.build(EventType.ERROR, user_id=SYSTEM_USER,
                                         strategy_id=None, data={
                                             **base, "strategies": len(armed),
                                             "users": len({h.user_id for h in armed}),
                                             "message": message}))
        self._side_effects.spawn(self._publish(events))

    def _recover(self, instrument: Instrument, now: float) -> None:
        episode = self.polling.pop(instrument)
        exchange, symbol = instrument
        quiet_s = round(now - episode.since, 1)
        self._log.info("feed recovered; polling stopped", extra={
            "exchange": exchange, "symbol": symbol, "stale_for_s": quiet_s,
            "polls": episode.polls, "poll_failures": episode.failures})
        message = f"Price ticks for {exchange}:{symbol} resumed after {quiet_s:g} s."
        base = {"kind": RECOVERED, "exchange": exchange, "symbol": symbol,
                "stale_for_s": quiet_s, "message": message}
        events = [self._events.build(RECOVERED_TYPE, user_id=h.user_id,
                                     strategy_id=h.strategy_id, rev=h.rev, data=base)
                  for h in episode.told]
        events.append(self._events.build(RECOVERED_TYPE, user_id=SYSTEM_USER,
                                         strategy_id=None, data={**base,
                                                                 "polls": episode.polls}))
        self._side_effects.spawn(self._publish(events))

    def _end(self, instrument: Instrument, why: str) -> None:
        """Stop polling without a recovery (nothing left to protect, or the market shut)."""
        episode = self.polling.pop(instrument, None)
        if episode is not None:
            self._log.info("polling stopped: %s", why, extra={
                "exchange": instrument[0], "symbol": instrument[1], "polls": episode.polls})

    # ---- polling -----------------------------------------------------------------------

    async def _poll_all(self) -> None:
        instruments = list(self.polling)
        quotes = await asyncio.gather(*(self._quote(i) for i in instruments))
        now_ns = epoch_ns(self._clock.now())
        for instrument, quote in zip(instruments, quotes, strict=True):
            episode = self.polling.get(instrument)
            if episode is None:  # recovered or ended while we asked
                continue
            if quote is None:
                episode.failures += 1
                self.poll_failures += 1
                if episode.failures == 1:
                    self._log.warning("no source could quote a stale instrument", extra={
                        "exchange": instrument[0], "symbol": instrument[1]})
                continue
            price, source = quote
            if self._pipe.inject(instrument, price, now_ns):
                episode.polls += 1
                episode.sources.add(source)
                self.polled += 1

    async def _quote(self, instrument: Instrument) -> tuple[int, str] | None:
        """The first price any source gives for the instrument, with the source's name."""
        for source in self._sources():
            try:
                price = await asyncio.wait_for(source.last_price(*instrument),
                                               POLL_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 — try the next source
                self._log.debug("price poll failed: %s", exc, extra={"source": source.name})
                continue
            if price is not None and price > 0:
                return price, source.name
        return None

    # ---- helpers -----------------------------------------------------------------------

    async def _market_open(self, armed: list[Holding]) -> bool:
        """In session for these strategies? Unknown (no calendar yet) counts as open:
        polling when it is not needed costs little, not polling may cost a stop-loss."""
        try:
            await self._market.refresh()
            self._calendar_failing = False
        except Exception as exc:  # noqa: BLE001 — keep the calendar already loaded
            if not self._calendar_failing:
                self._calendar_failing = True
                self._log.warning("trading calendar reload failed: %s", exc)
        paper = all(h.paper for h in armed)
        try:
            return self._market.is_open(now_ist(self._clock).date(), self._clock.now(),
                                        paper=paper)
        except RuntimeError:
            return True

    async def _publish(self, events: list[Event]) -> None:
        set_trace_id(new_trace_id())
        for event in events:
            await retry_forever(partial(self._events.publish, event), clock=self._clock,
                                log=self._log, what="publishing a feed alert")

