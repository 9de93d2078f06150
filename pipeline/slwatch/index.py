"""The armed exits of one replica, per instrument, for the tick hot path. Pure: no I/O.

Each instrument has a `Book` (see book.py): a tick finds every breached stop (stop >= LTP)
and target (target <= LTP) in O(log n + k), and moves trailing stops on a new high in O(1)
for the entries that share the instrument's high. A breached entry leaves the index at once
(stop, target and trail), so repeated breaching ticks produce one exit; the caller arms it
again if the exit fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from pipeline.slwatch.book import Book, Entry
from pipeline.slwatch.levels import Levels

R = TypeVar("R")
Kind = Literal["stop_loss", "trailing", "target"]


@dataclass(frozen=True, slots=True)
class Breach(Generic[R]):
    """One armed exit that a tick breached."""

    strategy_id: str
    ref: R
    """What the caller armed the entry with (its runtime record)."""
    kind: Kind
    level_paise: int
    """The stop (fixed or trailing, the higher) or target that was breached."""
    ltp_paise: int


class StopIndex(Generic[R]):
    """Armed exits by instrument (any string key; the service uses the tick subject)."""

    def __init__(self) -> None:
        self._books: dict[str, Book[R]] = {}
        self._armed: dict[str, Entry[R]] = {}
        self._highs: dict[str, tuple[str, int]] = {}
        """Last high of a trailing entry that left the index, by strategy, with its
        position key: arming the same position again resumes from it."""

    # ---- reading ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._armed)

    def __contains__(self, strategy_id: object) -> bool:
        return strategy_id in self._armed

    def watches(self, instrument: str) -> bool:
        """True if anything is armed on `instrument` (else its ticks need no decoding)."""
        return instrument in self._books

    def stop_of(self, strategy_id: str) -> int | None:
        """The effective stop (fixed or trailing, the higher) of an armed strategy."""
        entry = self._armed.get(strategy_id)
        if entry is None:
            return None
        return max(entry.stop, self._books[entry.instrument].trail_stop_of(entry))

    def target_of(self, strategy_id: str) -> int | None:
        """The target of an armed strategy, if it has one."""
        entry = self._armed.get(strategy_id)
        return None if entry is None else entry.target

    def high_of(self, strategy_id: str) -> int | None:
        """The highest price a trailing entry has seen (None without a trail)."""
        entry = self._armed.get(strategy_id)
        if entry is None or entry.trail is None:
            return None
        return self._books[entry.instrument].high_of(entry)

    def ref_of(self, strategy_id: str) -> R | None:
        """What an armed strategy was armed with."""
        entry = self._armed.get(strategy_id)
        return None if entry is None else entry.ref

    def strategy_ids(self) -> list[str]:
        """Every armed strategy."""
        return list(self._armed)

    # ---- changing ----------------------------------------------------------------------

    def arm(self, instrument: str, strategy_id: str, levels: Levels, ref: R) -> None:
        """Arm (or re-arm with new levels) a strategy; a trailing stop of the same position
        keeps the high it has seen."""
        old = self._armed.get(strategy_id)
        high = levels.entry_paise or 0
        if levels.trail is not None:
            if old is not None and old.trail is not None \
                    and old.position_key == levels.position_key:
                high = max(high, self._books[old.instrument].high_of(old))
            else:
                remembered = self._highs.get(strategy_id)
                if remembered is not None and remembered[0] == levels.position_key:
                    high = max(high, remembered[1])
        if old is not None:
            self._unlink(old)
        self._highs.pop(strategy_id, None)
        entry = Entry(strategy_id, instrument, ref, levels, high)
        book = self._books.get(instrument)
        if book is None:
            book = self._books[instrument] = Book()
        book.add(entry)
        self._armed[strategy_id] = entry

    def disarm(self, strategy_id: str) -> bool:
        """Remove a strategy's exits; False if it was not armed."""
        entry = self._armed.get(strategy_id)
        if entry is None:
            return False
        self._unlink(entry)
        return True

    def on_tick(self, instrument: str, ltp_paise: int) -> Sequence[Breach[R]]:
        """Apply one tick: trailing stops follow a new high, then every breached entry is
        taken out of the index and returned."""
        book = self._books.get(instrument)
        if book is None:
            return ()
        if book.needs_follow(ltp_paise):
            book.follow(ltp_paise)
        # One structure after the other: an entry taken from one leaves the others at once.
        out: list[Breach[R]] | None = None
        taken = book.stops.take_from(ltp_paise)
        if taken:
            out = [self._stop_breach(book, e, ltp_paise) for e in taken]
        if ltp_paise <= book.group_top:
            out = (out or []) + [self._stop_breach(book, e, ltp_paise)
                                 for e in book.take_group_from(ltp_paise)]
        if ltp_paise <= book.lag_top:
            out = (out or []) + [self._stop_breach(book, e, ltp_paise)
                                 for e in book.take_lagging_from(ltp_paise)]
        targets = book.targets.take_from(-ltp_paise)  # after the stops: theirs have left
        if targets:
            out = out or []
            for entry in targets:
                assert entry.target is not None
                out.append(Breach(entry.strategy_id, entry.ref, "target", entry.target,
                                  ltp_paise))
                self._leave(book, entry)
        if out is None:
            return ()
        if book.empty():
            del self._books[instrument]
        return out

    # ---- internals ---------------------------------------------------------------------

    def _stop_breach(self, book: Book[R], entry: Entry[R], ltp: int) -> Breach[R]:
        """The breach of an entry taken from one stop structure; it leaves the others."""
        trail_stop = book.trail_stop_of(entry)
        kind: Kind = "trailing" if entry.trail is not None and trail_stop > entry.stop \
            else "stop_loss"
        breach = Breach(entry.strategy_id, entry.ref, kind, max(entry.stop, trail_stop), ltp)
        self._leave(book, entry)
        return breach

    def _leave(self, book: Book[R], entry: Entry[R]) -> None:
        """Remove an entry from the index (one of its structures may have already)."""
        del self._armed[entry.strategy_id]
        book.remove(entry)
        if entry.trail is not None and entry.high:
            self._highs[entry.strategy_id] = (entry.position_key, entry.high)

    def _unlink(self, entry: Entry[R]) -> None:
        book = self._books[entry.instrument]
        self._leave(book, entry)
        if book.empty():
            del self._books[entry.instrument]
