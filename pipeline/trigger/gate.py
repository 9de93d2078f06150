"""Applying the readiness gate to due entries, synchronously, inside one scheduler step.

A held BUY stays owed in the Book (`hold_back`) and comes due again at its re-check; the
first hold of a strategy's BUY is announced (held.py); at the end of its grace period a
BUY still not ready is missed, with the reason. Nothing here publishes a command.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from core.db.enums import OrderAction
from pipeline.trigger.book import Book
from pipeline.trigger.held import HeldReporter
from pipeline.trigger.readiness import Readiness
from pipeline.trigger.schedule import Entry, Key


class Gate:
    """Splits due entries into those to fire, those held, and those missed while held."""

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
              ) -> tuple[list[Entry], list[Entry], dict[Key, str]]:
        """The entries to fire, and the BUYs missed at the end of their grace (with why);
        the others are held."""
        fire: list[Entry] = []
        missed: list[Entry] = []
        why: dict[Key, str] = {}
        for entry in entries:
            verdict = (self._readiness.check(entry.record, now)
                       if entry.action is OrderAction.BUY else None)
            if verdict is None:
                fire.append(entry)
                continue
            grace_end = entry.at + self._grace
            if now >= grace_end:
                self._book.mark_done(entry.key)
                missed.append(entry)
                why[entry.key] = verdict.reason
            elif self._book.hold_back(entry, min(now + self._recheck, grace_end),
                                      verdict.reason):
                self.held += 1
                if verdict.announce:
                    self._spawn(self._reporter.report(entry, verdict.reason))
                self._readiness.wanted.set()
        return fire, missed, why
