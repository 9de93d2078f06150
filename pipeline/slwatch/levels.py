"""A runtime record's exit levels in integer paise (the stop-loss model of strategy_validator).

Ticks carry integer paise, so a level with a fraction of a paisa is rounded to the paise
level that breaches on exactly the same ticks as the exact one: a stop (LTP <= stop) down,
a target (LTP >= target) up. The stop is therefore never looser, nor tighter, than the
user's number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from core.db.enums import Position, StopLossType
from core.strategies.runtime import StrategyRuntime

_HUNDRED = Fraction(100)


class LevelError(ValueError):
    """A record whose levels cannot be computed (a malformed number, a PERCENT stop with
    no entry price): the caller must not treat it as simply 'not armed'."""


@dataclass(frozen=True, slots=True)
class Trail:
    """A trailing stop of `pct` percent below the highest price seen."""

    pct: Fraction
    num: int = 0
    den: int = 1
    """1 - pct/100 as num/den, kept as integers for the hot path."""

    @classmethod
    def of(cls, pct: Fraction) -> Trail:
        """The trail of a percent in (0, 100)."""
        factor = 1 - pct / _HUNDRED
        return cls(pct, factor.numerator, factor.denominator)

    def stop_for(self, high_paise: int) -> int:
        """The trailing stop under a high, in paise (rounded down: exact on paise ticks)."""
        return high_paise * self.num // self.den


@dataclass(frozen=True, slots=True)
class Levels:
    """Where a BOUGHT position exits."""

    stop_paise: int
    """The fixed stop: a tick at or below it exits."""
    target_paise: int | None = None
    """A tick at or above it exits with profit."""
    trail: Trail | None = None
    entry_paise: int | None = None
    """The entry fill rounded down to paise: the trailing stop's first high."""
    trail_start_paise: int = 0
    """The trailing stop computed from the exact entry price (0 without a trail or entry)."""
    position_key: str = ""
    """Identifies the position (day and entry): a re-arm of the same one keeps its high."""


def to_fraction(text: str) -> Fraction:
    """An exact fraction of a decimal string; LevelError if it is not a finite number."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise LevelError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise LevelError(f"not a finite number: {text!r}")
    return Fraction(value)


def floor_paise(rupees: Fraction) -> int:
    """Rupees to paise, rounded down."""
    return math.floor(rupees * _HUNDRED)


def ceil_paise(rupees: Fraction) -> int:
    """Rupees to paise, rounded up."""
    return math.ceil(rupees * _HUNDRED)


def levels_of(record: StrategyRuntime) -> Levels | None:
    """The levels of a BOUGHT record; None when there is no position to protect.

    A PRICE stop needs no entry price, so it is armed even without one (an open position
    must stay protected); a PERCENT stop without an entry price raises LevelError.
    """
    if record.position != Position.BOUGHT.value:
        return None
    entry = None if record.entry_price is None else to_fraction(record.entry_price)
    value = to_fraction(record.stop_loss_value)
    if record.stop_loss_type == StopLossType.PERCENT.value:
        if entry is None:
            raise LevelError("a PERCENT stop-loss needs the entry price")
        stop = floor_paise(entry * (1 - value / _HUNDRED))
    elif record.stop_loss_type == StopLossType.PRICE.value:
        stop = floor_paise(value)
    else:
        raise LevelError(f"unknown stop-loss type {record.stop_loss_type!r}")
    target = None if record.target_price is None else ceil_paise(to_fraction(record.target_price))
    trail = None
    trail_start = 0
    if record.trailing_sl_pct is not None:
        pct = to_fraction(record.trailing_sl_pct)
        if not 0 < pct < _HUNDRED:
            raise LevelError(f"trailing percent out of range: {record.trailing_sl_pct}")
        trail = Trail.of(pct)
        if entry is not None:
            trail_start = floor_paise(entry * (1 - pct / _HUNDRED))
    return Levels(stop_paise=stop, target_paise=target, trail=trail,
                  entry_paise=None if entry is None else floor_paise(entry),
                  trail_start_paise=trail_start,
                  position_key=f"{record.position_day}:{record.entry_price}")
