"""playground_runs: replays of a trading day asked for through the API (ANA-5)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, PrefixedId, Timestamp

RUN_STATUSES = ("PENDING", "RUNNING", "DONE", "FAILED")


class PlaygroundRun(Base):
    """One replay: which simulated strategies, which day, from which ticks; then its results."""

    __tablename__ = "playground_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
        Index("ix_playground_runs_user_id_id", "user_id", "id"),
        Index("ix_playground_runs_pending", "id", postgresql_where=text("status = 'PENDING'")),
    )

    id: Mapped[PrefixedId]
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    trading_day: Mapped[date] = mapped_column(Date)
    seed: Mapped[int] = mapped_column(Integer)
    """The synthetic day's seed (a recorded day is named by `recording` instead)."""
    recording: Mapped[str | None] = mapped_column(String(256))
    strategy_ids: Mapped[list[str]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(8), default="PENDING")
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    ticks: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]
    started_at: Mapped[Timestamp | None]
    finished_at: Mapped[Timestamp | None]
