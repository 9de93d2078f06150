"""Which instruments the running strategies need, and which have an armed stop-loss.

A pure book: strategies come and go by `hold` and `drop`, guarded by `rev` like every other
follower of the runtime records (an older change never undoes a newer one). An instrument
is needed while any strategy holds it; it has an armed stop-loss while any of them holds a
BOUGHT position. A strategy stopped with its position still open keeps its instrument (the
stop-loss watcher still protects it) until an order event says the position is closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass

from core.db.enums import Position
from core.strategies.runtime import StrategyRuntime
from core.strategies.strategy_validator import PAPER
from pipeline.feed.sources import Instrument


@dataclass(frozen=True, slots=True)
class Holding:
    """One strategy's need of one instrument."""

    user_id: str
    strategy_id: str
    instrument: Instrument
    rev: int
    bought: bool
    """An open position: its stop-loss is armed."""
    paper: bool
    """On the paper broker (a paper-only instrument may trade at any hour in dev)."""


def holding_of(record: StrategyRuntime) -> Holding:
    """What a running strategy's record needs."""
    return Holding(user_id=record.user_id, strategy_id=record.strategy_id,
                   instrument=(record.exchange, record.symbol), rev=record.rev,
                   bought=record.position == Position.BOUGHT.value,
                   paper=record.broker == PAPER)


class Interest:
    """The strategies' holdings, by strategy and by instrument."""

    def __init__(self) -> None:
        self._by_strategy: dict[str, Holding] = {}
        self._by_instrument: dict[Instrument, dict[str, Holding]] = {}
        self._revs: dict[str, int] = {}
        """Newest rev applied per strategy, kept after a drop so an older one cannot revive."""

    def newer(self, strategy_id: str, rev: int) -> bool:
        """True if `rev` is newer than what was applied for the strategy."""
        return rev > self._revs.get(strategy_id, -1)

    def get(self, strategy_id: str) -> Holding | None:
        """The strategy's holding."""
        return self._by_strategy.get(strategy_id)

    def hold(self, holding: Holding) -> bool:
        """Apply a holding unless an equal or newer rev was applied; True if applied."""
        if not self.newer(holding.strategy_id, holding.rev):
            return False
        self._revs[holding.strategy_id] = holding.rev
        self._remove(holding.strategy_id)
        self._by_strategy[holding.strategy_id] = holding
        self._by_instrument.setdefault(holding.instrument, {})[holding.strategy_id] = holding
        return True

    def drop(self, strategy_id: str, rev: int) -> bool:
        """Forget the strategy unless a newer rev was applied; True if applied."""
        if not self.newer(strategy_id, rev):
            return False
        self._revs[strategy_id] = rev
        self._remove(strategy_id)
        return True

    def _remove(self, strategy_id: str) -> None:
        old = self._by_strategy.pop(strategy_id, None)
        if old is None:
            return
        holders = self._by_instrument[old.instrument]
        del holders[strategy_id]
        if not holders:
            del self._by_instrument[old.instrument]

    @property
    def instruments(self) -> Set[Instrument]:
        """Every instrument some strategy needs (a live read-only view)."""
        return self._by_instrument.keys()

    def armed(self, instrument: Instrument) -> list[Holding]:
        """The holdings of the instrument with an open position."""
        return [h for h in self._by_instrument.get(instrument, {}).values() if h.bought]

    def __iter__(self) -> Iterator[Holding]:
        return iter(self._by_strategy.values())

    def __len__(self) -> int:
        return len(self._by_strategy)
