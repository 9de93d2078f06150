"""Every strategy rule, with its error code."""

from __future__ import annotations

import dataclasses
from datetime import time
from decimal import Decimal
from typing import Any

import pytest

from core.db.enums import StopLossType
from core.errors import ValidationFailed
from core.strategies.strategy_validator import (
    PAPER,
    Facts,
    Limits,
    StrategySpec,
    parse_symbol,
    validate,
)

LIMITS = Limits(max_quantity=100, max_stop_loss_pct=Decimal(20), max_trailing_sl_pct=Decimal(10))
FACTS = Facts(instrument_known=True, last_price=Decimal("2500.00"), broker_owned=True)
GOOD = StrategySpec(exchange="NSE", symbol="RELIANCE", buy_time=time(9, 20),
                    sell_time=time(15, 10), stop_loss_type=StopLossType.PRICE,
                    stop_loss_value=Decimal("2450.00"), quantity=10, broker=PAPER)


def _codes(spec: StrategySpec = GOOD, facts: Facts = FACTS) -> list[str]:
    """The codes of every violation; the error's own code is the first one's."""
    caught: ValidationFailed | None = None
    try:
        validate(spec, facts, LIMITS)
    except ValidationFailed as exc:
        caught = exc
    if caught is None:
        return []
    details = caught.details
    assert isinstance(details, list)
    assert caught.code.code == details[0]["code"]
    assert caught.status == 422
    return [d["code"] for d in details]


def _with(**changes: Any) -> StrategySpec:
    return dataclasses.replace(GOOD, **changes)


def test_a_good_strategy_passes() -> None:
    assert _codes() == []
    assert _codes(_with(stop_loss_type=StopLossType.PERCENT, stop_loss_value=Decimal("1.5"))) \
        == []
    assert _codes(_with(target_price=Decimal("2600"), trailing_sl_pct=Decimal("2"))) == []
    assert _codes(facts=dataclasses.replace(FACTS, last_price=None)) == []


def test_str_001_unknown_symbol() -> None:
    assert _codes(facts=dataclasses.replace(FACTS, instrument_known=False)) == ["STR_001"]


@pytest.mark.parametrize(("buy", "sell"), [(time(10), time(10)), (time(14), time(10))])
def test_str_002_buy_before_sell(buy: time, sell: time) -> None:
    assert _codes(_with(buy_time=buy, sell_time=sell)) == ["STR_002"]


@pytest.mark.parametrize(("buy", "sell", "expected"), [
    (time(9, 14, 59), time(10), ["STR_003"]),
    (time(9, 15), time(15, 30), []),
    (time(10), time(15, 30, 1), ["STR_003"]),
    (time(8), time(16), ["STR_003", "STR_003"]),
])
def test_str_003_market_hours(buy: time, sell: time, expected: list[str]) -> None:
    assert _codes(_with(buy_time=buy, sell_time=sell)) == expected


@pytest.mark.parametrize(("kind", "value"), [
    (StopLossType.PRICE, "0"), (StopLossType.PRICE, "-5"),
    (StopLossType.PRICE, "2500.00"), (StopLossType.PRICE, "2600"),  # not below the price
    (StopLossType.PRICE, "1999.95"),  # more than 20 % below
    (StopLossType.PERCENT, "0"), (StopLossType.PERCENT, "20.01"),
])
def test_str_004_stop_loss_sanity(kind: StopLossType, value: str) -> None:
    assert _codes(_with(stop_loss_type=kind, stop_loss_value=Decimal(value))) == ["STR_004"]


@pytest.mark.parametrize("quantity", [0, -1, 101])
def test_str_005_quantity(quantity: int) -> None:
    assert _codes(_with(quantity=quantity)) == ["STR_005"]


def test_str_006_broker_chosen_and_owned() -> None:
    assert _codes(_with(broker="brk_x"), dataclasses.replace(FACTS, broker_owned=False)) \
        == ["STR_006"]
    assert _codes(_with(broker="brk_x", is_simulated=True)) == ["STR_006"]
    assert _codes(_with(is_simulated=True)) == []


@pytest.mark.parametrize("target", ["0", "2500", "2400"])
def test_str_007_target_above_price(target: str) -> None:
    assert _codes(_with(target_price=Decimal(target))) == ["STR_007"]


def test_str_007_target_above_stop_loss_when_no_price_is_known() -> None:
    no_price = dataclasses.replace(FACTS, last_price=None)
    assert _codes(_with(target_price=Decimal("2400")), no_price) == ["STR_007"]


@pytest.mark.parametrize("pct", ["0", "-1", "10.5"])
def test_str_008_trailing(pct: str) -> None:
    assert _codes(_with(trailing_sl_pct=Decimal(pct))) == ["STR_008"]


def test_every_violation_is_reported_first_code_leads() -> None:
    codes = _codes(_with(quantity=0, buy_time=time(15), sell_time=time(9, 30)),
                   dataclasses.replace(FACTS, instrument_known=False))
    assert codes == ["STR_001", "STR_002", "STR_005"]


@pytest.mark.parametrize("raw", ["RELIANCE", "XYZ:RELIANCE", "NSE:", "NSE:A.B", "NSE:A B"])
def test_str_011_symbol_format(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_symbol(raw)
    assert exc.value.code.code == "STR_011"


def test_symbol_is_normalised() -> None:
    assert parse_symbol(" nse:m&m ") == ("NSE", "M&M")
    assert parse_symbol("BSE:BAJAJ-AUTO") == ("BSE", "BAJAJ-AUTO")
