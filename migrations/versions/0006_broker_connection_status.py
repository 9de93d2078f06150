"""broker_credentials: why a connection is not valid, one live connection per account

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("broker_credentials",
                  sa.Column("status_reason", sa.String(length=32), nullable=True))
    op.create_index("uq_broker_credentials_account", "broker_credentials",
                    ["user_id", "broker_type", "client_id"], unique=True,
                    postgresql_where=sa.text("deleted_at IS NULL AND client_id IS NOT NULL"))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_broker_credentials_account", table_name="broker_credentials")
    op.drop_column("broker_credentials", "status_reason")
