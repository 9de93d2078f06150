"""strategies: BUY at a time, SELL at a time, a mandatory stop-loss (STR-1…STR-5)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Time,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, Money, PrefixedId, Timestamp, UpdatedAt
from core.db.enums import OrderAction, Position, StopLossType, StrategyStatus, check_in


class Strategy(Base):
    """PostgreSQL is the source of truth; Redis holds the running copy with the same `rev`."""

    __tablename__ = "strategies"
    __table_args__ = (
        CheckConstraint(check_in("status", StrategyStatus), name="status"),
        CheckConstraint(check_in("position", Position), name="position"),
        CheckConstraint(check_in("stop_loss_type", StopLossType), name="stop_loss_type"),
        CheckConstraint(
            f"last_action IS NULL OR {check_in('last_action', OrderAction)}", name="last_action"
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("buy_time < sell_time", name="buy_before_sell"),
        CheckConstraint("stop_loss_value > 0", name="stop_loss_positive"),
        Index("ix_strategies_user_id_status", "user_id", "status"),
        Index("ix_strategies_status", "status"),
        Index("ix_strategies_user_id_created_at", "user_id", "created_at"),
        # Keyset paging of a user's list by each sort order (ids sort by creation time).
        Index("ix_strategies_user_id_id", "user_id", "id"),
        Index("ix_strategies_user_id_updated_at_id", "user_id", "updated_at", "id"),
        Index("ix_strategies_user_id_name_id", "user_id", "name", "id"),
        Index("ix_strategies_symbol", "exchange", "symbol"),
    )

    id: Mapped[PrefixedId]
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    exchange: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    buy_time: Mapped[time] = mapped_column(Time)
    sell_time: Mapped[time] = mapped_column(Time)
    stop_loss_type: Mapped[str] = mapped_column(String(8))
    stop_loss_value: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    target_price: Mapped[Money | None]
    trailing_sl_pct: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    quantity: Mapped[int] = mapped_column(Integer)
    broker_credential_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("broker_credentials.id", ondelete="SET NULL")
    )
    is_simulated: Mapped[bool] = mapped_column(Boolean, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default=StrategyStatus.CREATED.value)
    position: Mapped[str] = mapped_column(String(8), default=Position.NONE.value)
    last_action: Mapped[str | None] = mapped_column(String(16))
    position_day: Mapped[date | None] = mapped_column(Date)
    entry_price: Mapped[Money | None]
    rev: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    status_reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    started_at: Mapped[Timestamp | None]
    stopped_at: Mapped[Timestamp | None]
    deleted_at: Mapped[Timestamp | None]
