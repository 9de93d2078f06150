"""Dhan API v2 (BRK-3): auth, REST, live market feed, scrip master, error mapping."""

from brokers.dhan.broker import DhanBroker, DhanConfig, DhanCredentials
from brokers.dhan.registry import DhanBuilder

__all__ = ["DhanBroker", "DhanBuilder", "DhanConfig", "DhanCredentials"]
