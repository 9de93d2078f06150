"""The connectors of the connect flow, by broker type (BRK-8).

Each broker adapter plugs in here with one line: a class satisfying
`core.connections.connector.Connector`, kept in `brokers/<name>/connector.py` beside its
`auth.py`. Paper trading needs no connection and has no connector.
"""

from __future__ import annotations

from brokers.angel_one.connector import AngelOneConnector
from brokers.dhan.connector import DhanConnector
from brokers.fyers.connector import FyersConnector
from brokers.zerodha.connector import KiteConnector
from core.clock import Clock
from core.connections.connector import Connector
from core.settings import Settings


def build_connectors(settings: Settings, clock: Clock) -> dict[str, Connector]:
    """Every available connector, by broker type."""
    connectors: list[Connector] = [
        KiteConnector.from_settings(settings, clock),
        DhanConnector.from_settings(settings, clock),
        FyersConnector.from_settings(settings, clock),
        AngelOneConnector.from_settings(settings, clock),
    ]
    return {c.broker_type: c for c in connectors}
