"""Every broker fake the contract suite runs against: broker type → kit factory.

Each broker's fake adds its own line (see tests/fakes/contract.py).
"""

from __future__ import annotations

from tests.fakes.contract import KitFactory

KITS: dict[str, KitFactory] = {}
