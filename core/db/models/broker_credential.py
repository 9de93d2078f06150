"""broker_credentials: a user's broker connection, secrets encrypted (BRK-7)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, PrefixedId, Timestamp, UpdatedAt
from core.db.enums import BrokerType, check_in


class BrokerCredential(Base):
    """Secrets are AES-256-GCM ciphertexts prefixed with their key id; the user id is the AAD."""

    __tablename__ = "broker_credentials"
    __table_args__ = (
        CheckConstraint(check_in("broker_type", BrokerType), name="broker_type"),
        Index("ix_broker_credentials_user_id", "user_id"),
        Index("ix_broker_credentials_token_expires_at", "token_expires_at"),
        # One live connection per broker account and user: a second login to the same
        # account reconnects the first instead of making a twin.
        Index("uq_broker_credentials_account", "user_id", "broker_type", "client_id",
              unique=True, postgresql_where=text("deleted_at IS NULL AND client_id IS NOT NULL")),
    )

    id: Mapped[PrefixedId]
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    broker_type: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64))
    encrypted_api_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    encrypted_api_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    encrypted_access_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    encrypted_extra: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(16))
    token_expires_at: Mapped[Timestamp | None]
    is_valid: Mapped[bool] = mapped_column(Boolean, server_default=false())
    status_reason: Mapped[str | None] = mapped_column(String(32))
    """Why the connection is not valid: a `core.connections.model.Reason` value."""
    last_validated_at: Mapped[Timestamp | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    deleted_at: Mapped[Timestamp | None]
