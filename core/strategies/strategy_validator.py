"""Every rule a strategy must obey, in one place (STR-1, STR-5); each has its error code.

The stop-loss model: a strategy is long-only intraday (BUY at buy_time, SELL at sell_time),
and its stop-loss is either an absolute price (`PRICE`, rupees) or a percent below the
entry fill (`PERCENT`); a `PERCENT` stop becomes a price when the BUY fills. Rules that
need the market (a price stop must sit below the last price) apply when a last price is
known. `validate()` takes the facts and does no I/O; `facts_for()` gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from typing import Final

from core import error_codes
from core.calendar import REGULAR_CLOSE, REGULAR_OPEN
from core.db.enums import StopLossType
from core.error_codes import ErrorCode
from core.errors import ValidationFailed

EXCHANGES: Final = frozenset({"NSE", "BSE"})
PAPER: Final = "paper"


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """The user-chosen fields of a strategy, already parsed."""

    exchange: str
    symbol: str
    buy_time: time
    sell_time: time
    stop_loss_type: StopLossType
    stop_loss_value: Decimal
    quantity: int
    broker: str
    """A broker credential id of the user's, or `paper`."""
    is_simulated: bool = False
    target_price: Decimal | None = None
    trailing_sl_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the world says about a spec: the validator's only inputs besides the spec."""

    instrument_known: bool
    last_price: Decimal | None
    broker_owned: bool
    """The credential exists, belongs to the user and is not deleted (True for paper)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Configurable limits (from settings)."""

    max_quantity: int
    max_stop_loss_pct: Decimal
    max_trailing_sl_pct: Decimal
    paper_always_open: bool = False
    """Dev only: paper strategies may use any time of day (trying the system at night)."""


@dataclass
class _Violations:
    items: list[tuple[ErrorCode, str, str]] = field(default_factory=list)

    def add(self, code: ErrorCode, fld: str, message: str) -> None:
        self.items.append((code, fld, message))


def parse_symbol(value: str) -> tuple[str, str]:
    """`NSE:RELIANCE` → (`NSE`, `RELIANCE`); STR_011 if it is not of that form."""
    exchange, sep, symbol = value.strip().upper().partition(":")
    if not sep or exchange not in EXCHANGES or not symbol or len(symbol) > 64 \
            or any(c in symbol for c in " .*>:"):
        raise ValidationFailed("Symbol must look like NSE:RELIANCE",
                               code=error_codes.STR_SYMBOL_FORMAT,
                               details=[{"field": "symbol", "code": "STR_011",
                                         "message": "expected EXCHANGE:SYMBOL (NSE or BSE)"}])
    return exchange, symbol


def validate(spec: StrategySpec, facts: Facts, limits: Limits) -> None:
    """Raise ValidationFailed (the first rule's code, every violation in details) or pass."""
    v = _Violations()
    if not facts.instrument_known:
        v.add(error_codes.STR_UNKNOWN_SYMBOL, "symbol",
              f"{spec.exchange}:{spec.symbol} is not in the instrument list")
    if spec.buy_time >= spec.sell_time:
        v.add(error_codes.STR_TIME_ORDER, "sell_time", "sell_time must be after buy_time")
    anytime = limits.paper_always_open and spec.broker == PAPER
    for name, value in (("buy_time", spec.buy_time), ("sell_time", spec.sell_time)):
        if not anytime and not REGULAR_OPEN <= value <= REGULAR_CLOSE:
            v.add(error_codes.STR_OUTSIDE_MARKET, name, "must be within 09:15-15:30 IST")
    _check_stop_loss(spec, facts, limits, v)
    if not 1 <= spec.quantity <= limits.max_quantity:
        v.add(error_codes.STR_QUANTITY, "quantity",
              f"must be between 1 and {limits.max_quantity}")
    if spec.is_simulated and spec.broker != PAPER:
        v.add(error_codes.STR_BROKER, "broker_credential_id",
              "a simulated strategy trades on paper only")
    elif not facts.broker_owned:
        v.add(error_codes.STR_BROKER, "broker_credential_id", "no such broker connection")
    _check_target(spec, facts, v)
    if spec.trailing_sl_pct is not None and not (
            0 < spec.trailing_sl_pct <= limits.max_trailing_sl_pct):
        v.add(error_codes.STR_BAD_TRAILING, "trailing_sl_pct",
              f"must be above 0 and at most {limits.max_trailing_sl_pct}")
    if v.items:
        code, _, message = v.items[0]
        raise ValidationFailed(message, code=code, details=[
            {"field": f, "code": c.code, "message": m} for c, f, m in v.items])


def _check_stop_loss(spec: StrategySpec, facts: Facts, limits: Limits, v: _Violations) -> None:
    value = spec.stop_loss_value
    if spec.stop_loss_type is StopLossType.PERCENT:
        if not 0 < value <= limits.max_stop_loss_pct:
            v.add(error_codes.STR_BAD_STOP_LOSS, "stop_loss",
                  f"percent must be above 0 and at most {limits.max_stop_loss_pct}")
        return
    if value <= 0:
        v.add(error_codes.STR_BAD_STOP_LOSS, "stop_loss", "price must be positive")
    elif facts.last_price is not None:
        floor = facts.last_price * (1 - limits.max_stop_loss_pct / 100)
        if value >= facts.last_price:
            v.add(error_codes.STR_BAD_STOP_LOSS, "stop_loss",
                  f"must be below the last price {facts.last_price}")
        elif value < floor:
            v.add(error_codes.STR_BAD_STOP_LOSS, "stop_loss",
                  f"more than {limits.max_stop_loss_pct}% below the last price")


def _check_target(spec: StrategySpec, facts: Facts, v: _Violations) -> None:
    if spec.target_price is None:
        return
    if spec.target_price <= 0:
        v.add(error_codes.STR_BAD_TARGET, "target_price", "must be positive")
    elif facts.last_price is not None and spec.target_price <= facts.last_price:
        v.add(error_codes.STR_BAD_TARGET, "target_price",
              f"must be above the last price {facts.last_price}")
    elif spec.stop_loss_type is StopLossType.PRICE and spec.target_price <= spec.stop_loss_value:
        v.add(error_codes.STR_BAD_TARGET, "target_price", "must be above the stop-loss")
