"""notifications.delivered_at (the notifier's delivery marker) and a (user_id, id) index
for cursor pagination

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("notifications", sa.Column("delivered_at", sa.DateTime(timezone=True),
                                             nullable=True))
    # Rows written before this revision were never going to be delivered live again.
    op.execute("UPDATE notifications SET delivered_at = created_at")
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_notifications_user_id_id", table_name="notifications")
    op.drop_column("notifications", "delivered_at")
