"""error_logs: ERROR and CRITICAL records persisted from every process (ADM-4)."""

from __future__ import annotations

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, JsonDict, SerialId


class ErrorLog(Base):
    """One error record with enough context to filter by service, user, strategy or trace."""

    __tablename__ = "error_logs"
    __table_args__ = (
        Index("ix_error_logs_created_at", "created_at"),
        Index("ix_error_logs_level_created_at", "level", "created_at"),
        Index("ix_error_logs_service_created_at", "service", "created_at"),
        Index("ix_error_logs_trace_id", "trace_id"),
        Index("ix_error_logs_user_id", "user_id"),
    )

    id: Mapped[SerialId]
    level: Mapped[str] = mapped_column(String(10))
    service: Mapped[str] = mapped_column(String(32))
    logger: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    exception: Mapped[str | None] = mapped_column(Text)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(32))
    strategy_id: Mapped[str | None] = mapped_column(String(32))
    context: Mapped[JsonDict]
    created_at: Mapped[CreatedAt]
