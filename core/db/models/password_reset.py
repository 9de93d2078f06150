"""password_resets: single-use, expiring, hashed reset tokens (ACC-5)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, PrefixedId, Timestamp


class PasswordReset(Base):
    """A requested password reset; only the token's hash is stored."""

    __tablename__ = "password_resets"
    __table_args__ = (
        Index("ix_password_resets_user_id", "user_id"),
        Index("ix_password_resets_token_hash", "token_hash", unique=True),
    )

    id: Mapped[PrefixedId]
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[Timestamp]
    used_at: Mapped[Timestamp | None]
    ip: Mapped[str | None] = mapped_column(String(45))
