"""One documented schema per event type (LIVE-1), kept in step with docs/events.md."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from core.event_schemas import SCHEMAS, OrderExecutedData, decode_data, events_markdown
from core.events import EventType
from core.messages import Event

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"


def test_every_type_has_a_documented_schema() -> None:
    assert set(SCHEMAS) == set(EventType)
    assert all(struct.__doc__ for struct in SCHEMAS.values())
    assert DOC.read_text() == events_markdown(), "docs/events.md is stale: algo events-doc"


def test_data_decodes_into_its_schema() -> None:
    event = Event(id="evt_1", type="ORDER_EXECUTED", user_id="usr_1", strategy_id="str_1",
                  ts=1, data={"order_id": "ord_1", "action": "BUY", "side": "BUY",
                              "status": "FILLED", "exchange": "NSE", "symbol": "TCS",
                              "quantity": 1, "trading_day": "2026-11-25", "broker": "paper",
                              "is_simulated": True, "position": "BOUGHT",
                              "filled_quantity": 1, "fill_price": "4000.00",
                              "broker_order_id": "P1", "latency_ms": 2.5, "new_key": 1})
    data = decode_data(event)
    assert isinstance(data, OrderExecutedData) and data.fill_price == "4000.00"
    with pytest.raises(msgspec.ValidationError):
        decode_data(Event(id="evt_2", type="SL_TRIGGERED", user_id="u", ts=1, data={}))
