"""playground runs: replays of a trading day asked for through the API

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 20:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "playground_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("recording", sa.String(length=256), nullable=True),
        sa.Column("strategy_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("results", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("ticks", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('PENDING', 'RUNNING', 'DONE', 'FAILED')",
                           name=op.f("ck_playground_runs_status")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_playground_runs_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playground_runs")),
    )
    op.create_index("ix_playground_runs_user_id_id", "playground_runs", ["user_id", "id"])
    op.create_index("ix_playground_runs_pending", "playground_runs", ["id"],
                    postgresql_where=sa.text("status = 'PENDING'"))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_playground_runs_pending", table_name="playground_runs")
    op.drop_index("ix_playground_runs_user_id_id", table_name="playground_runs")
    op.drop_table("playground_runs")
