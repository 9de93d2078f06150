"""dlq_retries: the one retry an admin may make of each dead-lettered command (ADM-2)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, SerialId


class DlqRetry(Base):
    """A dead letter put back on its subject: unique per DLQ message, so it happens once."""

    __tablename__ = "dlq_retries"
    __table_args__ = (UniqueConstraint("stream", "dlq_seq", name="uq_dlq_retries_message"),)

    id: Mapped[SerialId]
    stream: Mapped[str] = mapped_column(String(32))
    dlq_seq: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(256))
    """Where the command was published again (its original subject)."""
    msg_id: Mapped[str] = mapped_column(String(200))
    """The retry's `Nats-Msg-Id`: fixed per DLQ message, so a repeated publish is dropped."""
    command_seq: Mapped[int | None] = mapped_column(BigInteger)
    duplicate: Mapped[bool] = mapped_column(Boolean)
    """True when the stream already held this retry (it was published before)."""
    actor_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL"))
    trace_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[CreatedAt]
