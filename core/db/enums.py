"""Closed vocabularies stored as short strings, checked by database constraints."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a user is to the platform (core/rbac.py holds what each may do)."""

    ADMIN = "admin"
    USER = "user"
    BROKER = "broker"


class StrategyStatus(StrEnum):
    """Lifecycle of a strategy (DESIGN §5)."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"


class Position(StrEnum):
    """A strategy's position for the trading day."""

    NONE = "NONE"
    BOUGHT = "BOUGHT"
    SOLD = "SOLD"
    SL_HIT = "SL_HIT"


class OrderAction(StrEnum):
    """Why an order exists; with strategy and day it is the order's natural key."""

    BUY = "BUY"
    SELL = "SELL"
    SL_EXIT = "SL_EXIT"
    TARGET_EXIT = "TARGET_EXIT"
    SQUARE_OFF = "SQUARE_OFF"


class OrderStatus(StrEnum):
    """Where an order is on the exactly-once path (DESIGN §4)."""

    PENDING = "PENDING"
    SENT = "SENT"
    UNKNOWN = "UNKNOWN"
    ACCEPTED = "ACCEPTED"
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


class BrokerType(StrEnum):
    """The brokers a credential can belong to."""

    ZERODHA = "zerodha"
    DHAN = "dhan"
    FYERS = "fyers"
    ANGEL_ONE = "angel_one"
    PAPER = "paper"


class StopLossType(StrEnum):
    """How a strategy's stop-loss value is read."""

    PRICE = "PRICE"
    PERCENT = "PERCENT"


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL for a CHECK constraint restricting `column` to the enum's values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"
