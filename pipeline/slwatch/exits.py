"""Which order action an exit uses, and which exits are in flight. Pure: no I/O.

The executor keeps one order per (strategy, trading day, action), for ever: once an
SL_EXIT order exists that day — filled, rejected or skipped — a second SL_EXIT command is
the same intent and executes nothing. So an exit that must be retried the same day takes
the next unused action of its ladder (the retry is still a market sell of the position):

    stop (fixed or trailing)   SL_EXIT → SQUARE_OFF → TARGET_EXIT
    target                     TARGET_EXIT → SQUARE_OFF

An action counts as used once this watcher published it, the stream reported it a
duplicate, or an order event of it (or a square-off by a stop) was seen.
"""

from __future__ import annotations

from typing import Final

from core.db.enums import OrderAction
from pipeline.slwatch.index import Kind

STOP_LADDER: Final = (OrderAction.SL_EXIT, OrderAction.SQUARE_OFF, OrderAction.TARGET_EXIT)
TARGET_LADDER: Final = (OrderAction.TARGET_EXIT, OrderAction.SQUARE_OFF)
WATCHED_EXITS: Final = frozenset(STOP_LADDER)
"""Exit actions whose orders the watcher keeps track of."""
RETRY_REASON: Final = "stop_loss_retry"


def ladder_of(kind: Kind) -> tuple[OrderAction, ...]:
    """The actions an exit of `kind` may use, first choice first."""
    return TARGET_LADDER if kind == "target" else STOP_LADDER


def reason_for(kind: Kind, action: OrderAction) -> str:
    """The command's reason: the kind for a first attempt, a retry otherwise."""
    return kind if action is ladder_of(kind)[0] else RETRY_REASON


class ExitLedger:
    """Per strategy: the exit actions used today and the exit in flight, if any."""

    def __init__(self) -> None:
        self._used: dict[str, tuple[str, set[OrderAction]]] = {}
        self._pending: dict[str, tuple[str, OrderAction]] = {}

    def used(self, strategy_id: str, day: str) -> frozenset[OrderAction]:
        """The actions used on `day`."""
        held = self._used.get(strategy_id)
        return frozenset(held[1]) if held is not None and held[0] == day else frozenset()

    def mark_used(self, strategy_id: str, day: str, action: OrderAction) -> None:
        """An order of `action` exists (or may exist) for the strategy on `day`."""
        held = self._used.get(strategy_id)
        if held is None or held[0] != day:
            if held is not None and held[0] > day:
                return  # news of an earlier day changes nothing today
            held = self._used[strategy_id] = (day, set())
        held[1].add(action)

    def choose(self, strategy_id: str, day: str, kind: Kind) -> OrderAction | None:
        """The first unused action of the kind's ladder; None when all are used."""
        used = self.used(strategy_id, day)
        return next((a for a in ladder_of(kind) if a not in used), None)

    def begin(self, strategy_id: str, day: str, action: OrderAction) -> None:
        """An exit is being published: it is used and in flight until its outcome."""
        self.mark_used(strategy_id, day, action)
        self._pending[strategy_id] = (day, action)

    def in_flight(self, strategy_id: str) -> bool:
        """True while an exit of the strategy waits for its order's outcome."""
        return strategy_id in self._pending

    def pending(self, strategy_id: str) -> tuple[str, OrderAction] | None:
        """The (day, action) in flight."""
        return self._pending.get(strategy_id)

    def settle(self, strategy_id: str, day: str, action: OrderAction) -> bool:
        """The order of (day, action) reached an outcome; True if it was the one in flight."""
        if self._pending.get(strategy_id) == (day, action):
            del self._pending[strategy_id]
            return True
        return False

    def abandon(self, strategy_id: str) -> None:
        """Nothing is in flight any more (no action was left to publish)."""
        self._pending.pop(strategy_id, None)
