"""dlq_retries: one recorded retry per dead-lettered command (admin DLQ API)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "dlq_retries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("dlq_seq", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("msg_id", sa.String(length=200), nullable=False),
        sa.Column("command_seq", sa.BigInteger(), nullable=True),
        sa.Column("duplicate", sa.Boolean(), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name="fk_dlq_retries_actor_id_users", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_dlq_retries"),
        sa.UniqueConstraint("stream", "dlq_seq", name="uq_dlq_retries_message"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("dlq_retries")
