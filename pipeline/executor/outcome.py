"""What one command's trip to the broker came to, and the attempts that got it there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brokers.base import BrokerOrder, BrokerOrderStatus
from core.db.enums import OrderStatus


@dataclass(frozen=True, slots=True)
class Attempt:
    """One broker interaction, for `order_logs` (RUN-6)."""

    kind: str
    """`place`, `lookup` or `poll`."""
    outcome: str
    """accepted, filled, rejected, not_sent, ambiguous, token_expired, found, absent,
    unavailable, halted."""
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    error: str | None = None
    latency_us: int | None = None


@dataclass(slots=True)
class Outcome:
    """The order's status after this trip, with the broker's view of it."""

    status: OrderStatus
    broker_order: BrokerOrder | None = None
    reason: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    sends: int = 0


def status_of(order: BrokerOrder) -> OrderStatus:
    """Our order status for the broker's."""
    return {
        BrokerOrderStatus.COMPLETE: OrderStatus.FILLED,
        BrokerOrderStatus.REJECTED: OrderStatus.REJECTED,
        BrokerOrderStatus.CANCELLED: OrderStatus.CANCELLED,
        BrokerOrderStatus.OPEN: OrderStatus.ACCEPTED,
    }[order.status]
