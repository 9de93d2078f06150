"""trading_calendar_overrides: admin-imported holidays and special sessions (DESIGN §8)."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, SerialId


class TradingCalendarOverride(Base):
    """A day that differs from the calendar library: a holiday or a special session."""

    __tablename__ = "trading_calendar_overrides"
    __table_args__ = (
        UniqueConstraint("exchange", "day", name="uq_trading_calendar_overrides_exchange_day"),
        CheckConstraint("kind IN ('HOLIDAY', 'SPECIAL_SESSION')", name="kind"),
        CheckConstraint(
            "kind = 'HOLIDAY' OR (open_time IS NOT NULL AND close_time IS NOT NULL"
            " AND open_time < close_time)",
            name="session_times",
        ),
        Index("ix_trading_calendar_overrides_day", "day"),
    )

    id: Mapped[SerialId]
    exchange: Mapped[str] = mapped_column(String(8), default="NSE")
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    open_time: Mapped[time | None] = mapped_column(Time)
    close_time: Mapped[time | None] = mapped_column(Time)
    created_by: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[CreatedAt]
