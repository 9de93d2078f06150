"""What the per-broker adapter builders (tests/<broker>_kit.py) and their REST tests share:
the short timeouts and quick ticker backoff of an adapter pointed at a fake, how long a
session made for a test lives, and a plain order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brokers.base import OrderRequest, Side
from brokers.common.http import Timeouts
from brokers.common.ws import Backoff

READ_TIMEOUT_S = 0.5
"""Short, so an accept-then-timeout test does not wait long."""
TICKER_BACKOFF = Backoff(initial_s=0.05, max_s=0.2)
"""Reconnects come quickly, so a socket-drop test does not wait long."""


def timeouts(read_s: float = READ_TIMEOUT_S) -> Timeouts:
    """An adapter's HTTP timeouts at a fake on this machine."""
    return Timeouts(connect_s=1.0, read_s=read_s, write_s=1.0, pool_s=1.0)


def expiry(at: datetime | None = None, *, hours: float = 24) -> datetime:
    """`at`, or `hours` from now: when a session made for a test dies."""
    return at or datetime.now(UTC) + timedelta(hours=hours)


def buy(tag: str, symbol: str = "RELIANCE", quantity: int = 2) -> OrderRequest:
    """An intraday market BUY."""
    return OrderRequest(client_tag=tag, exchange="NSE", symbol=symbol, side=Side.BUY,
                        quantity=quantity)
