"""paper book, halts, order event ids, daily loss

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 16:20:38.254826
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table("halts",
    sa.Column("scope", sa.String(length=32), nullable=False),
    sa.Column("reason", sa.String(length=256), nullable=False),
    sa.Column("set_by", sa.String(length=32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.PrimaryKeyConstraint("scope", name=op.f("pk_halts"))
    )
    op.create_table("paper_orders",
    sa.Column("id", sa.String(length=32), nullable=False),
    sa.Column("account", sa.String(length=64), nullable=False),
    sa.Column("client_tag", sa.String(length=32), nullable=True),
    sa.Column("exchange", sa.String(length=8), nullable=False),
    sa.Column("symbol", sa.String(length=64), nullable=False),
    sa.Column("side", sa.String(length=4), nullable=False),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("product", sa.String(length=8), nullable=False),
    sa.Column("order_type", sa.String(length=8), nullable=False),
    sa.Column("status", sa.String(length=12), nullable=False),
    sa.Column("status_message", sa.Text(), nullable=True),
    sa.Column("filled_quantity", sa.Integer(), nullable=False),
    sa.Column("average_price", sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("fill_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("side IN ('BUY', 'SELL')", name=op.f("ck_paper_orders_side")),
    sa.CheckConstraint("status IN ('OPEN', 'COMPLETE', 'REJECTED', 'CANCELLED')", name=op.f("ck_paper_orders_status")),
    sa.CheckConstraint("quantity > 0", name=op.f("ck_paper_orders_quantity_positive")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_orders"))
    )
    op.create_index("ix_paper_orders_account_client_tag", "paper_orders", ["account", "client_tag"], unique=False)
    op.create_index("ix_paper_orders_account_created_at", "paper_orders", ["account", "created_at"], unique=False)
    op.add_column("orders", sa.Column("event_id", sa.String(length=32), nullable=True))
    op.add_column("users", sa.Column("max_daily_loss", sa.Numeric(precision=14, scale=2), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("users", "max_daily_loss")
    op.drop_column("orders", "event_id")
    op.drop_index("ix_paper_orders_account_created_at", table_name="paper_orders")
    op.drop_index("ix_paper_orders_account_client_tag", table_name="paper_orders")
    op.drop_table("paper_orders")
    op.drop_table("halts")
