"""The result of one simulated strategy-day: entry, exit, why it exited, P&L, charges.

Money is a decimal string in rupees (one spelling per number, so the same trade always
encodes to the same bytes); times are ISO-8601 in IST.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Final

import msgspec
import numpy as np

from core.clock import IST
from core.playground.charges import ChargeRates, charges, paise

EXIT_REASONS: Final = {
    "SELL": "sell_time", "SL_EXIT": "stop_loss", "TARGET_EXIT": "target",
    "SQUARE_OFF": "square_off",
}
KIND_REASONS: Final = {"stop": "stop_loss", "trailing": "trailing_stop", "target": "target"}


def exit_reason(action: str, kind: str | None = None) -> str:
    """sell_time, stop_loss, trailing_stop, target or square_off: the watcher's kind when
    known (a retried stop exits with another action), else the order's action."""
    if action != "SELL" and kind in KIND_REASONS:
        return KIND_REASONS[kind]
    return EXIT_REASONS.get(action, action.lower())


@dataclass(frozen=True, slots=True)
class Fill:
    """One filled order: average price in rupees, quantity, when."""

    price: Decimal
    quantity: int
    at: datetime


class ChargesOut(msgspec.Struct, frozen=True):
    """The charges, each in rupees."""

    brokerage: str
    stt: str
    exchange: str
    sebi: str
    gst: str
    stamp: str
    total: str


class TradeResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one simulated strategy did on one trading day."""

    strategy_id: str
    trading_day: str
    exchange: str
    symbol: str
    quantity: int
    outcome: str
    """no_entry, open (bought, not exited), profit, loss or flat."""
    entry_price: str | None = None
    entry_at: str | None = None
    exit_price: str | None = None
    exit_at: str | None = None
    exit_reason: str | None = None
    gross_pnl: str = "0.00"
    charges: ChargesOut | None = None
    net_pnl: str = "0.00"
    max_drawdown: str | None = None
    """The deepest fall of the open position's value below its best, in rupees."""


def money(value: Decimal) -> str:
    """Rupees with two decimals."""
    return f"{paise(value):f}"


def drawdown_paise(path: Sequence[int] | np.ndarray) -> int:
    """The largest peak-to-trough fall of a price path, per share, in paise."""
    arr = np.asarray(path, dtype=np.int64)
    if arr.size < 2:
        return 0
    return int((np.maximum.accumulate(arr) - arr).max())


def trade_result(*, strategy_id: str, day: date, exchange: str, symbol: str, quantity: int,
                 entry: Fill | None, exit: Fill | None, reason: str | None,
                 rates: ChargeRates, drawdown: int | None = None) -> TradeResult:
    """The result of a day; `drawdown` is per share in paise (None when unknown)."""
    base = {"strategy_id": strategy_id, "trading_day": day.isoformat(), "exchange": exchange,
            "symbol": symbol, "quantity": quantity}
    if entry is None:
        return TradeResult(**base, outcome="no_entry")  # type: ignore[arg-type]
    qty = entry.quantity
    buy_value = entry.price * qty
    sell_value = exit.price * exit.quantity if exit is not None else Decimal(0)
    # An open position has paid its buy leg's charges; its P&L is not realized yet.
    cost = charges(buy_value, sell_value, rates)
    gross = sell_value - buy_value if exit is not None else Decimal(0)
    net = gross - cost.total
    outcome = "open" if exit is None else ("profit" if net > 0 else "loss" if net < 0
                                           else "flat")
    dd = None if drawdown is None else money(Decimal(drawdown * qty) / 100)
    return TradeResult(
        **base, outcome=outcome,  # type: ignore[arg-type]
        entry_price=money(entry.price), entry_at=_ist(entry.at),
        exit_price=None if exit is None else money(exit.price),
        exit_at=None if exit is None else _ist(exit.at), exit_reason=reason,
        gross_pnl=money(gross), net_pnl=money(net), max_drawdown=dd,
        charges=ChargesOut(brokerage=money(cost.brokerage), stt=money(cost.stt),
                           exchange=money(cost.exchange), sebi=money(cost.sebi),
                           gst=money(cost.gst), stamp=money(cost.stamp),
                           total=money(cost.total)))


def _ist(at: datetime) -> str:
    return at.astimezone(IST).isoformat()


_encoder = msgspec.json.Encoder(order="deterministic")


def encode_results(results: Sequence[TradeResult]) -> bytes:
    """The results as JSON, sorted by strategy: the same results, the same bytes."""
    return _encoder.encode(sorted(results, key=lambda r: (r.strategy_id, r.trading_day)))
