"""Fyers API v3 (BRK-4): auth-code login, REST, the HSM data socket, symbol master, errors."""

from brokers.fyers.broker import FyersBroker, FyersConfig, FyersCredentials
from brokers.fyers.registry import FyersBuilder

__all__ = ["FyersBroker", "FyersBuilder", "FyersConfig", "FyersCredentials"]
