"""strategy list indexes for keyset paging

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_strategies_user_id_id", "strategies", ["user_id", "id"])
    op.create_index("ix_strategies_user_id_updated_at_id", "strategies",
                    ["user_id", "updated_at", "id"])
    op.create_index("ix_strategies_user_id_name_id", "strategies", ["user_id", "name", "id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_strategies_user_id_name_id", table_name="strategies")
    op.drop_index("ix_strategies_user_id_updated_at_id", table_name="strategies")
    op.drop_index("ix_strategies_user_id_id", table_name="strategies")
