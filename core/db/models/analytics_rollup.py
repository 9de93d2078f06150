"""The analytics rollup's other tables (ANA-3): which days are rolled up, and the order mix
by broker. `daily_user_stats` holds the per-user days."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base


class AnalyticsRollupDay(Base):
    """A trading day whose rows are in the daily tables. Days are rolled up in order, so
    the days present are contiguous and dashboards read rows up to the latest one and the
    orders after it."""

    __tablename__ = "analytics_rollup_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_rows: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class DailyBrokerStats(Base):
    """One day's orders at one broker type, real and simulated kept apart."""

    __tablename__ = "daily_broker_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_simulated: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    broker_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    orders_total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    orders_filled: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    orders_rejected: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    turnover: Mapped[Decimal] = mapped_column(Numeric(18, 2), server_default=text("0"))
