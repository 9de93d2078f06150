"""What the replay saw of each strategy: its entry fill, its exit fill, why it exited."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.playground.trades import KIND_REASONS, Fill


@dataclass(frozen=True, slots=True)
class Filled:
    """A fill and where the instrument's price path stood when it happened."""

    fill: Fill
    index: int
    action: str = "BUY"


@dataclass
class Outcomes:
    """Entries, exits and the watcher's exit kinds, by strategy id."""

    entries: dict[str, Filled] = field(default_factory=dict)
    exits: dict[str, Filled] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    def enter(self, strategy_id: str, fill: Fill, index: int) -> None:
        """The BUY filled."""
        self.entries[strategy_id] = Filled(fill, index)

    def leave(self, strategy_id: str, fill: Fill, action: str, index: int,
              reason: str) -> None:
        """An exit filled; `reason` is its command's (the watcher's kind for a stop)."""
        self.exits[strategy_id] = Filled(fill, index, action)
        if reason in KIND_REASONS:
            self.kinds[strategy_id] = reason
