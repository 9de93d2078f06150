"""trading_calendar_years: years whose exchange holiday list an admin has imported."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt


class TradingCalendarYear(Base):
    """A year the calendar covers beyond the calendar library (DESIGN §8)."""

    __tablename__ = "trading_calendar_years"

    exchange: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    holidays: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))
    imported_by: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: Mapped[CreatedAt]
