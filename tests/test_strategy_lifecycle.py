"""The strategy state machine: every legal transition, and every other one refused."""

from __future__ import annotations

import itertools

import pytest

from core.db.enums import StrategyStatus
from core.errors import Conflict
from core.strategies.lifecycle import TRANSITIONS, Action, check_edit, transition

S = StrategyStatus

LEGAL = {
    (S.CREATED, Action.START): S.RUNNING,
    (S.STOPPED, Action.START): S.RUNNING,
    (S.COMPLETED, Action.START): S.RUNNING,
    (S.ERROR, Action.START): S.RUNNING,
    (S.RUNNING, Action.STOP): S.STOPPED,
    (S.RUNNING, Action.COMPLETE): S.COMPLETED,
    (S.RUNNING, Action.FAIL): S.ERROR,
    (S.CREATED, Action.DELETE): None,
    (S.STOPPED, Action.DELETE): None,
    (S.COMPLETED, Action.DELETE): None,
    (S.ERROR, Action.DELETE): None,
}


def test_the_table_is_the_documented_one() -> None:
    assert TRANSITIONS == LEGAL


@pytest.mark.parametrize(("status", "action"), sorted(LEGAL, key=str))
def test_legal_transitions(status: StrategyStatus, action: Action) -> None:
    assert transition(status, action) == LEGAL[(status, action)]


ILLEGAL = [pair for pair in itertools.product(S, Action) if pair not in LEGAL]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_illegal_transitions_are_409(status: StrategyStatus, action: Action) -> None:
    with pytest.raises(Conflict) as exc:
        transition(status, action)
    assert exc.value.status == 409
    assert exc.value.code.code == "STR_009"
    assert exc.value.details == {"status": status.value, "action": action.value}


def test_running_strategy_cannot_be_deleted_or_started_again() -> None:
    assert (S.RUNNING, Action.DELETE) in ILLEGAL
    assert (S.RUNNING, Action.START) in ILLEGAL


def test_only_risk_fields_and_times_change_while_running() -> None:
    check_edit(S.RUNNING, {"stop_loss", "target_price", "trailing_sl_pct", "buy_time",
                           "sell_time", "name"})
    with pytest.raises(Conflict) as exc:
        check_edit(S.RUNNING, {"stop_loss", "quantity", "symbol"})
    assert exc.value.code.code == "STR_010"
    assert exc.value.details == {"fields": ["quantity", "symbol"]}
    check_edit(S.STOPPED, {"quantity", "symbol", "broker_credential_id"})
