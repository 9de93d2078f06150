"""web/json.py: msgspec output in the API's formats, the same for what it hands to the
std-lib encoder (non-string keys), and pydantic models left inside a payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from decimal import Decimal
from enum import Enum

from pydantic import BaseModel
from quart import Quart

from web.json import FastJSONProvider


class Side(Enum):
    BUY = "BUY"


class Leg(BaseModel):
    side: Side
    price: Decimal


VALUES = {"at": datetime(2026, 11, 25, 9, 20, 1, 500, tzinfo=UTC), "buy": time(9, 20),
          "price": Decimal("2401.50"), "side": Side.BUY}
EXPECTED = {"at": "2026-11-25T09:20:01.000500Z", "buy": "09:20:00", "price": "2401.50",
            "side": "BUY"}


def test_string_keys_encode_in_the_api_formats_sorted() -> None:
    provider = FastJSONProvider(Quart("t"))
    text = provider.dumps({**VALUES, "leg": Leg(side=Side.BUY, price=Decimal("1.5"))})
    assert json.loads(text) == {**EXPECTED, "leg": {"side": "BUY", "price": "1.5"}}
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_other_keys_fall_back_with_the_same_value_formats() -> None:
    provider = FastJSONProvider(Quart("t"))
    text = provider.dumps({200: VALUES, 404: None})
    assert json.loads(text) == {"200": EXPECTED, "404": None}
