"""Every broker fake the contract suite runs against: broker type → kit factory.

Each broker's fake adds its own line (see tests/fakes/contract.py).
"""

from __future__ import annotations

from tests.fakes.angel.kit import angel_kit
from tests.fakes.contract import KitFactory
from tests.fakes.dhan.kit import dhan_kit
from tests.fakes.fyers.kit import fyers_kit
from tests.fakes.kite.kit import kite_kit

KITS: dict[str, KitFactory] = {
    "angel_one": angel_kit,
    "dhan": dhan_kit,
    "fyers": fyers_kit,
    "zerodha": kite_kit,
}
