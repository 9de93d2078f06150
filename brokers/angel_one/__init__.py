"""Angel One SmartAPI (BRK-5): TOTP login, REST, SmartWebSocket v2 ticker, scrip master,
error mapping."""

from brokers.angel_one.broker import AngelConfig, AngelCredentials, AngelOneBroker
from brokers.angel_one.registry import AngelOneBuilder

__all__ = ["AngelConfig", "AngelCredentials", "AngelOneBroker", "AngelOneBuilder"]
