"""halts: the kill switch's durable record (RUN-8); Redis holds the live copy."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt


class Halt(Base):
    """One engaged kill switch: `global`, or a user id. `rebuild_runtime()` restores Redis
    from these rows, so a Redis loss never silently lifts a halt."""

    __tablename__ = "halts"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(256))
    set_by: Mapped[str | None] = mapped_column(String(32))
    """A user id, or None when the system tripped it (max daily loss)."""
    created_at: Mapped[CreatedAt]
