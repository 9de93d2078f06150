"""paper_orders: the paper broker's own order book (BRK-6).

The paper broker plays an exchange, so its book lives outside the executor's process and
outlives a crash, as a real broker's does. Positions are derived from the filled orders.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, CreatedAt, Money, Timestamp


class PaperOrder(Base):
    """One order as the paper broker saw it; the client tag is indexed, never unique (as at
    a real broker, which does not de-duplicate tags)."""

    __tablename__ = "paper_orders"
    __table_args__ = (
        CheckConstraint("side IN ('BUY', 'SELL')", name="side"),
        CheckConstraint("status IN ('OPEN', 'COMPLETE', 'REJECTED', 'CANCELLED')",
                        name="status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_paper_orders_account_client_tag", "account", "client_tag"),
        Index("ix_paper_orders_account_created_at", "account", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    """The paper account: one per user (`paper:{user_id}`)."""
    client_tag: Mapped[str | None] = mapped_column(String(32))
    exchange: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(8), default="MIS")
    order_type: Mapped[str] = mapped_column(String(8), default="MARKET")
    status: Mapped[str] = mapped_column(String(12))
    status_message: Mapped[str | None] = mapped_column(Text)
    filled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    average_price: Mapped[Money | None]
    created_at: Mapped[CreatedAt]
    fill_at: Mapped[Timestamp | None]
    """When an OPEN order fills (the configured fill delay); None once settled."""
    filled_at: Mapped[Timestamp | None]
