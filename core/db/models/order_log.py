"""order_logs: every attempt to place or look up an order (RUN-6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, SerialId


class OrderLog(Base):
    """One broker interaction: request, response, outcome class and latency."""

    __tablename__ = "order_logs"
    __table_args__ = (
        Index("ix_order_logs_strategy_id", "strategy_id"),
        Index("ix_order_logs_order_id", "order_id"),
        Index("ix_order_logs_created_at", "created_at"),
    )

    id: Mapped[SerialId]
    order_id: Mapped[str] = mapped_column(String(32), ForeignKey("orders.id", ondelete="CASCADE"))
    strategy_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    request: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(String(512))
    latency_us: Mapped[int | None] = mapped_column(BigInteger)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[CreatedAt]
