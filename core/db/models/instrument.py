"""instruments: tradable symbols, `NSE:RELIANCE` ↔ broker tokens (BRK-11)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, Index, Integer, Numeric, String, text, true
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UpdatedAt


class Instrument(Base):
    """One listed equity. The bundled list (core/data/nse_equity.csv: symbol and name of
    well-known NSE equities) is a starting point; broker instrument masters add the rest,
    with tick sizes and broker tokens."""

    __tablename__ = "instruments"
    __table_args__ = (Index("ix_instruments_isin", "isin"),)

    exchange: Mapped[str] = mapped_column(String(8), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    isin: Mapped[str | None] = mapped_column(String(12))
    tick_size: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    lot_size: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    source: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[UpdatedAt]
