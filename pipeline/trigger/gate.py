"""Applying the readiness gate to due entries, synchronously, inside one scheduler step.

A held BUY stays owed in the Book (`hold_back`) and comes due again at its re-check; the
first hold of a strategy's BUY is announced (held.py). A BUY is owed until its grace period
ends or its SELL time comes, whichever is first: a BUY never fires at or after its own
SELL time, or once its SELL is done (that would leave a position with no exit today). A BUY
still not ready then, or found due that late, is missed, with the reason. Nothing here
publishes a command.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from core.db.enums import OrderAction
from pipeline.trigger import plan
from pipeline.trigger.book import Book
from pipeline.trigger.held import HeldReporter
from pipeline.trigger.missed import SELL_CAME, Why
from pipeline.trigger.readiness import Readiness
from pipeline.trigger.schedule import Entry, Key


class Gate:
    """Splits due entries into those to fire, those held, and those missed."""

    def __init__(self, book: Book, readiness: Readiness, reporter: HeldReporter,
                 spawn: Callable[[Coroutine[Any, Any, None]], None], *, grace_s: float,
                 recheck_s: float) -> None:
        self._book = book
        self._readiness = readiness
        self._reporter = reporter
        self._spawn = spawn
        self._grace = timedelta(seconds=grace_s)
        self._recheck = timedelta(seconds=recheck_s)
        self.held = 0
        """Times a due BUY was held (each re-check counts)."""

    def split(self, entries: list[Entry], now: datetime,
              ) -> tuple[list[Entry], list[Entry], dict[Key, Why]]:
        """The entries to fire, and the BUYs missed (with why); the others are held."""
        fire: list[Entry] = []
        missed: list[Entry] = []
        why: dict[Key, Why] = {}
        for entry in entries:
            if entry.action is not OrderAction.BUY:
                fire.append(entry)
                continue
            verdict = self._readiness.check(entry.record, now)
            sell_at = plan.sell_at(entry.record, entry.day)
            if now >= sell_at or self._book.is_done((entry.record.strategy_id,
                                                     OrderAction.SELL)):
                self._book.mark_done(entry.key)
                missed.append(entry)
                why[entry.key] = Why(verdict.reason if verdict is not None else None,
                                     SELL_CAME)
                continue
            if verdict is None:
                fire.append(entry)
                continue
            ends_at = min(entry.at + self._grace, sell_at)
            if now >= ends_at:  # the grace period ended (the SELL time is later)
                self._book.mark_done(entry.key)
                missed.append(entry)
                why[entry.key] = Why(verdict.reason)
            elif self._book.hold_back(entry, min(now + self._recheck, ends_at),
                                      verdict.reason):
                self.held += 1
                if verdict.announce:
                    self._spawn(self._reporter.report(entry, verdict.reason))
                self._readiness.wanted.set()
        return fire, missed, why
