"""orders.announced_at: an outbox marker for outcomes whose events must still go out

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 17:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("orders", sa.Column("announced_at", sa.DateTime(timezone=True),
                                      nullable=True))
    # Orders settled before this revision were announced by the code that settled them.
    op.execute("UPDATE orders SET announced_at = completed_at WHERE completed_at IS NOT NULL")
    op.create_index("ix_orders_unannounced", "orders", ["completed_at"],
                    postgresql_where=sa.text(
                        "announced_at IS NULL AND completed_at IS NOT NULL"))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_orders_unannounced", table_name="orders")
    op.drop_column("orders", "announced_at")
