"""orders: one row per intent, unique on (strategy, trading day, action) — DESIGN §4."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, Money, PrefixedId, Timestamp, UpdatedAt
from core.db.enums import OrderAction, OrderStatus, check_in


class Order(Base):
    """The persisted intent: written before any broker call, continued on redelivery."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("strategy_id", "trading_day", "action", name="uq_orders_intent"),
        CheckConstraint(check_in("action", OrderAction), name="action"),
        CheckConstraint(check_in("status", OrderStatus), name="status"),
        CheckConstraint("side IN ('BUY', 'SELL')", name="side"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_orders_user_id_created_at", "user_id", "created_at"),
        Index("ix_orders_status", "status"),
        Index("ix_orders_trading_day", "trading_day"),
        Index("ix_orders_user_id_trading_day", "user_id", "trading_day"),
        Index("ix_orders_client_tag", "client_tag", unique=True),
        Index("ix_orders_broker_order_id", "broker_order_id"),
        Index("ix_orders_unannounced", "completed_at",
              postgresql_where=text("announced_at IS NULL AND completed_at IS NOT NULL")),
    )

    id: Mapped[PrefixedId]
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    strategy_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("strategies.id", ondelete="CASCADE")
    )
    trading_day: Mapped[date] = mapped_column(Date)
    action: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(4))
    exchange: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    broker_type: Mapped[str] = mapped_column(String(16))
    broker_credential_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("broker_credentials.id", ondelete="SET NULL")
    )
    is_simulated: Mapped[bool] = mapped_column(Boolean, server_default=false())
    client_tag: Mapped[str] = mapped_column(String(32))
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PENDING.value)
    status_reason: Mapped[str | None] = mapped_column(Text)
    average_price: Mapped[Money | None]
    filled_quantity: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    trace_id: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(32))
    """The id of the event announcing the final outcome, fixed at commit so that a
    redelivered command republishes the same event (and the stream drops it)."""
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    sent_at: Mapped[Timestamp | None]
    completed_at: Mapped[Timestamp | None]
    announced_at: Mapped[Timestamp | None]
    """When the final outcome's runtime copy and events went out; NULL on a final order
    means they still must (the executor's sweeper repeats the announcement)."""
