"""analytics rollup: rolled-up days, the daily order mix by broker, orders by user and day

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "analytics_rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_rows", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_analytics_rollup_days"),
    )
    op.create_table(
        "daily_broker_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_simulated", sa.Boolean(), nullable=False),
        sa.Column("broker_type", sa.String(length=16), nullable=False),
        sa.Column("orders_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("orders_filled", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("orders_rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("turnover", sa.Numeric(precision=18, scale=2), server_default=sa.text("0"),
                  nullable=False),
        sa.PrimaryKeyConstraint("day", "is_simulated", "broker_type",
                                name="pk_daily_broker_stats"),
    )
    # A user's orders after the last rolled-up day (the live part of their dashboards).
    op.create_index("ix_orders_user_id_trading_day", "orders", ["user_id", "trading_day"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_orders_user_id_trading_day", table_name="orders")
    op.drop_table("daily_broker_stats")
    op.drop_table("analytics_rollup_days")
