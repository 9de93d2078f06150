"""Zerodha Kite Connect v3 (BRK-2): auth, REST, ticker, instrument master, error mapping."""

from brokers.zerodha.broker import KiteConfig, KiteCredentials, ZerodhaBroker
from brokers.zerodha.registry import ZerodhaBuilder

__all__ = ["KiteConfig", "KiteCredentials", "ZerodhaBroker", "ZerodhaBuilder"]
