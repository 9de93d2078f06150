"""users: accounts of traders, admins and broker operators."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, Money, PrefixedId, Timestamp, UpdatedAt
from core.db.enums import Role, check_in


class User(Base):
    """A login; e-mail is stored normalised (lower-case) and unique; deletion is soft."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(check_in("role", Role), name="role"),
        Index("ix_users_email", "email", unique=True),
        Index("ix_users_role", "role"),
        Index("ix_users_created_at", "created_at"),
    )

    id: Mapped[PrefixedId]
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    last_login_at: Mapped[Timestamp | None]
    deleted_at: Mapped[Timestamp | None]
    password_changed_at: Mapped[Timestamp | None]
    max_daily_loss: Mapped[Money | None]
    """Optional risk limit: realised loss in a day beyond this halts the user (RUN-8)."""
