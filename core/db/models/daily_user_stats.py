"""daily_user_stats: the idempotent daily rollup behind dashboards (ANA-3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UpdatedAt


class DailyUserStats(Base):
    """One user's trading day, real and simulated kept apart."""

    __tablename__ = "daily_user_stats"

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_simulated: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    orders_total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    orders_filled: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    orders_rejected: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    trades: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    wins: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    losses: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    gross_pnl: Mapped[Decimal] = mapped_column(Numeric(16, 2), server_default=text("0"))
    charges: Mapped[Decimal] = mapped_column(Numeric(16, 2), server_default=text("0"))
    net_pnl: Mapped[Decimal] = mapped_column(Numeric(16, 2), server_default=text("0"))
    updated_at: Mapped[UpdatedAt]
