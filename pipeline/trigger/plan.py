"""Pure rules of the trigger: when a strategy's BUY and SELL fall, and what to do with one
whose time has already passed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Final

from core.clock import IST
from core.db.enums import OrderAction
from core.strategies.runtime import StrategyRuntime
from pipeline.trigger.schedule import Entry, Key

ACTIONS: Final = (OrderAction.BUY, OrderAction.SELL)


class Verdict(StrEnum):
    """What becomes of an entry found already past its time."""

    NOT_DUE = "not_due"
    """It was never owed: fired already, or the strategy (or this time) is newer than it."""
    FIRE = "fire"
    """Late, but within the grace period: fire now."""
    MISSED = "missed"
    """Too late to trade: report it, never fire it."""


def wall_times(record: StrategyRuntime) -> list[tuple[OrderAction, time]]:
    """The BUY and SELL IST wall times of `record`."""
    return [(OrderAction.BUY, time.fromisoformat(record.buy_time)),
            (OrderAction.SELL, time.fromisoformat(record.sell_time))]


def times_on(record: StrategyRuntime, day: date) -> list[tuple[OrderAction, datetime]]:
    """The BUY and SELL instants of `record` on `day` (aware)."""
    return [(action, datetime.combine(day, wall, IST)) for action, wall in wall_times(record)]


def sell_at(record: StrategyRuntime, day: date) -> datetime:
    """The SELL instant of `record` on `day` (aware): no BUY of that day fires at or after it."""
    return datetime.combine(day, time.fromisoformat(record.sell_time), IST)


def started_at(record: StrategyRuntime) -> datetime | None:
    """When the strategy was (last) started, aware."""
    if record.started_at is None:
        return None
    value = datetime.fromisoformat(record.started_at)
    # The database stores aware timestamps; a naive one can only have been UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def verdict(at: datetime, now: datetime, *, since: datetime | None, fired: bool,
            grace_s: float) -> Verdict:
    """Judge an entry due at `at` (<= `now`) that has not been fired by this process.

    `since` is when the schedule that defines the entry came to be (the strategy's start, or
    the update that set this time): an entry older than its schedule was never owed.
    """
    if fired or (since is not None and since > at):
        return Verdict.NOT_DUE
    if (now - at).total_seconds() <= grace_s:
        return Verdict.FIRE
    return Verdict.MISSED


def member(entry: Entry) -> str:
    """The entry's member in the day's fired and missed sets: `{strategy_id}:{action}`."""
    return f"{entry.record.strategy_id}:{entry.action.value}"


def keys_of(members: Iterable[bytes | str]) -> list[Key]:
    """Fired-set members as keys (an unknown action is skipped)."""
    keys: list[Key] = []
    for raw in members:
        text = raw.decode() if isinstance(raw, bytes) else raw
        strategy_id, _, action = text.rpartition(":")
        with contextlib.suppress(ValueError):
            keys.append((strategy_id, OrderAction(action)))
    return keys


def instant(epoch_ns: int) -> datetime:
    """An event's epoch-nanosecond timestamp as an aware datetime."""
    return datetime.fromtimestamp(epoch_ns / 1e9, UTC)
