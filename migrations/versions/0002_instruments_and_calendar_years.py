"""instruments and calendar years

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 15:03:41.677486
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "instruments",
        sa.Column("exchange", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("isin", sa.String(length=12), nullable=True),
        sa.Column("tick_size", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("lot_size", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("exchange", "symbol", name=op.f("pk_instruments")),
    )
    op.create_index("ix_instruments_isin", "instruments", ["isin"], unique=False)
    op.create_table(
        "trading_calendar_years",
        sa.Column("exchange", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("holidays", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("imported_by", sa.String(length=32), nullable=True),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["imported_by"],
            ["users.id"],
            name=op.f("fk_trading_calendar_years_imported_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("exchange", "year", name=op.f("pk_trading_calendar_years")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("trading_calendar_years")
    op.drop_index("ix_instruments_isin", table_name="instruments")
    op.drop_table("instruments")
