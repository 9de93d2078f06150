"""The executor's hot statements, on driver connections (core.db.driver): DESIGN §4 steps
2 and 6, run once or twice per order.

Rows come back as detached `Order` / `Strategy` instances (core.db.rowmap) that the
executor's rules read and change; what they write is stated, never flushed: new intents,
the changed columns of orders and strategies, attempt logs and notifications, gathered in
a `Writes` and written by `write()` inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import asyncpg
import msgspec

from core.db.models import BrokerCredential, Order, Strategy
from core.db.rowmap import RowMap
from core.ids import new_id

ORDERS: Final = RowMap(Order)
STRATEGIES: Final = RowMap(Strategy)
CREDENTIALS: Final = RowMap(BrokerCredential, exclude=(
    "encrypted_api_key", "encrypted_api_secret", "encrypted_access_token", "encrypted_extra"))

# The column lists come from the mapped tables, never from input (hence the S608 waivers).
_LOCK_STRATEGIES: Final = (f"SELECT {STRATEGIES.select_list()} FROM strategies "  # noqa: S608
                           "WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE")
_ORDERS_OF: Final = (f"SELECT {ORDERS.select_list()} FROM orders "  # noqa: S608
                     "WHERE strategy_id = ANY($1::text[]) AND trading_day = ANY($2::date[])")
_CREDENTIALS: Final = (f"SELECT {CREDENTIALS.select_list()} "  # noqa: S608
                       "FROM broker_credentials "
                       "WHERE id = ANY($1::text[])")
_JOINED: Final = (f"SELECT {ORDERS.select_list('o')}, "  # noqa: S608
                  f"{STRATEGIES.select_list('s')} "
                  "FROM orders o JOIN strategies s ON s.id = o.strategy_id "
                  "WHERE o.id = ANY($1::text[])")
_LOCK_JOINED: Final = f"{_JOINED} ORDER BY s.id, o.id FOR UPDATE"
_INSERT_ORDER: Final = ORDERS.insert_sql()
_UPDATE_ORDER: Final = (
    "UPDATE orders SET status = $2, status_reason = $3, attempts = $4, sent_at = $5, "
    "broker_order_id = $6, filled_quantity = $7, average_price = $8, completed_at = $9, "
    "event_id = $10, updated_at = now() WHERE id = $1")
_UPDATE_STRATEGY: Final = (
    "UPDATE strategies SET status = $2, status_reason = $3, position = $4, "
    "last_action = $5, position_day = $6, entry_price = $7, rev = $8, "
    "consecutive_failures = $9, stopped_at = $10, updated_at = $11 WHERE id = $1")
_INSERT_LOG: Final = (
    "INSERT INTO order_logs (order_id, strategy_id, user_id, attempt, action, status, "
    "outcome, request, response, error, latency_us, trace_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
_INSERT_NOTIFICATION: Final = (
    "INSERT INTO notifications (id, user_id, type, title, body, data, event_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT ON CONSTRAINT uq_notifications_event_user DO NOTHING")
_json = msgspec.json.Encoder()


def _jsonb(value: dict[str, Any] | None) -> str | None:
    # The engine's connections take json as text (SQLAlchemy's asyncpg codec).
    return None if value is None else _json.encode(value).decode()


async def lock_strategies(conn: asyncpg.Connection, strategy_ids: Iterable[str],
                          ) -> list[Strategy]:
    """Strategies locked for update in id order (two batches locking overlapping sets then
    never deadlock), deleted or not. Read their orders with a *later* statement: one that
    waited for a lock sees other rows as of its start, so a joined read would miss an exit
    committed by the transaction it waited for."""
    records = await conn.fetch(_LOCK_STRATEGIES, sorted(strategy_ids))
    return [STRATEGIES.load(record) for record in records]


async def orders_of(conn: asyncpg.Connection, strategies: Iterable[Strategy],
                    trading_days: Iterable[date]) -> list[Order]:
    """Every order of these strategies on these trading days and on the day each one's
    position was opened."""
    chosen = list(strategies)
    if not chosen:
        return []
    days = set(trading_days) | {s.position_day for s in chosen if s.position_day is not None}
    records = await conn.fetch(_ORDERS_OF, sorted(s.id for s in chosen), sorted(days))
    return [ORDERS.load(record) for record in records]


async def credentials(conn: asyncpg.Connection, credential_ids: Iterable[str],
                      ) -> list[BrokerCredential]:
    """Broker connections by id, deleted or not, without their secrets (the caller checks
    their owner)."""
    records = await conn.fetch(_CREDENTIALS, sorted(credential_ids))
    return [CREDENTIALS.load(record) for record in records]


async def with_strategies(conn: asyncpg.Connection, order_ids: Iterable[str], *,
                          lock: bool = False) -> dict[str, tuple[Order, Strategy]]:
    """Orders by id with their strategies, in one statement (absent ones left out); with
    `lock`, both locked for update, strategy by strategy in id order as every writer
    locks them."""
    records = await conn.fetch(_LOCK_JOINED if lock else _JOINED, sorted(order_ids))
    result: dict[str, tuple[Order, Strategy]] = {}
    strategies: dict[str, Strategy] = {}  # one instance per strategy, as a session has
    for record in records:
        order = ORDERS.load(record)
        strategy = strategies.get(order.strategy_id)
        if strategy is None:
            strategy = strategies[order.strategy_id] = STRATEGIES.load(record, ORDERS.width)
        result[order.id] = (order, strategy)
    return result


@dataclass(slots=True)
class Writes:
    """What one transaction of the order path writes, gathered while its items are judged."""

    new_orders: list[Order] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    """Existing orders whose outcome changed (every column an outcome sets is written)."""
    strategies: dict[str, Strategy] = field(default_factory=dict)
    """Strategies whose state changed."""
    logs: list[tuple[Any, ...]] = field(default_factory=list)
    notifications: list[tuple[Any, ...]] = field(default_factory=list)

    def insert(self, order: Order) -> None:
        """A new intent."""
        self.new_orders.append(order)

    def order_changed(self, order: Order) -> None:
        """An order's outcome columns changed (nothing to do for a new intent: it is
        inserted as it is when written)."""
        if all(new is not order for new in self.new_orders):
            self.orders[order.id] = order

    def strategy_changed(self, strategy: Strategy) -> None:
        """A strategy's state changed."""
        self.strategies[strategy.id] = strategy

    def log(self, order: Order, *, attempt: int, status: str, outcome: str | None,
            request: dict[str, Any] | None = None, response: dict[str, Any] | None = None,
            error: str | None = None, latency_us: int | None = None) -> None:
        """One broker interaction of `order`."""
        self.logs.append((order.id, order.strategy_id, order.user_id, attempt, order.action,
                          status, outcome, _jsonb(request), _jsonb(response),
                          error[:512] if error else None, latency_us, order.trace_id))

    def notify(self, *, event_id: str, user_id: str, type: str, title: str, body: str,
               data: dict[str, Any] | None = None) -> None:
        """The notification of one event for one user (kept if it already exists)."""
        self.notifications.append((new_id("ntf"), user_id, type, title[:200], body,
                                   _jsonb(data or {}), event_id))


async def write(conn: asyncpg.Connection, writes: Writes) -> None:
    """Everything gathered, in the caller's transaction: intents first (logs refer to
    them), one round trip per kind of row.

    Orders and strategies are written back whole (every column an outcome sets), so they
    must have been read under FOR UPDATE in this same transaction (`with_strategies(…,
    lock=True)`, `lock_strategies`): an unlocked copy would undo a concurrent change."""
    if writes.new_orders:
        await conn.executemany(_INSERT_ORDER,
                               [ORDERS.values(order) for order in writes.new_orders])
    if writes.orders:
        await conn.executemany(_UPDATE_ORDER, [
            (o.id, o.status, o.status_reason, o.attempts, o.sent_at, o.broker_order_id,
             o.filled_quantity, o.average_price, o.completed_at, o.event_id)
            for o in writes.orders.values()])
    if writes.strategies:
        await conn.executemany(_UPDATE_STRATEGY, [
            (s.id, s.status, s.status_reason, s.position, s.last_action, s.position_day,
             s.entry_price, s.rev, s.consecutive_failures, s.stopped_at, s.updated_at)
            for s in writes.strategies.values()])
    if writes.logs:
        await conn.executemany(_INSERT_LOG, writes.logs)
    if writes.notifications:
        await conn.executemany(_INSERT_NOTIFICATION, writes.notifications)
