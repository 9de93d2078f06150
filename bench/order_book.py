"""What a latency benchmark reads back: commands as published, and both order books."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.db.enums import OrderAction, OrderStatus
from core.db.models import Order, PaperOrder
from core.messages import OrderCommand, decoder

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ns(moment: datetime) -> int:
    """An aware datetime as epoch nanoseconds, exactly (to its microsecond)."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


class CommandWatch:
    """Every order command as published, by strategy: its `issued_at` (epoch ns)."""

    def __init__(self) -> None:
        self.issued: dict[str, list[int]] = defaultdict(list)
        self._decode = decoder(OrderCommand)

    async def start(self, nc: NatsClient) -> None:
        """Subscribe (core NATS: the stream and its consumer are untouched)."""
        await nc.subscribe(subjects.COMMANDS_ALL, cb=self._on_msg)

    async def _on_msg(self, msg: Msg) -> None:
        command = self._decode.decode(msg.data)
        if command.action == OrderAction.BUY.value:
            self.issued[command.strategy_id].append(command.issued_at)


@dataclass
class Book:
    """What the paper broker received and what `orders` recorded, by strategy."""

    received: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    """Paper orders' `created_at` (epoch ns) per strategy (through the order's client tag)."""
    tags_repeated: int = 0
    """Client tags carried by more than one paper order."""
    unmatched: int = 0
    """Paper orders whose tag is no order's."""
    intent_at: dict[str, int] = field(default_factory=dict)
    """`orders.created_at` (epoch ns): when the executor began writing the intent row."""
    filled_at: dict[str, int] = field(default_factory=dict)
    """`orders.completed_at` (epoch ns) of each FILLED BUY."""
    statuses: Counter[str] = field(default_factory=Counter)


async def read_book(sessions: async_sessionmaker[AsyncSession]) -> Book:
    """Both books, joined on the client tag."""
    async with sessions() as session:
        orders = (await session.execute(select(
            Order.strategy_id, Order.client_tag, Order.status, Order.created_at,
            Order.completed_at)
            .where(Order.action == OrderAction.BUY.value))).all()
        paper = (await session.execute(select(PaperOrder.client_tag,
                                              PaperOrder.created_at))).all()
    book = Book()
    by_tag: dict[str, str] = {}
    for strategy_id, tag, status, created_at, completed_at in orders:
        by_tag[tag] = strategy_id
        book.statuses[status] += 1
        book.intent_at[strategy_id] = epoch_ns(created_at)
        if status == OrderStatus.FILLED.value and completed_at is not None:
            book.filled_at[strategy_id] = epoch_ns(completed_at)
    tags = Counter(paper_tag for paper_tag, _ in paper)
    book.tags_repeated = sum(1 for n in tags.values() if n > 1)
    for paper_tag, created_at in paper:
        owner = by_tag.get(paper_tag) if paper_tag is not None else None
        if owner is None:
            book.unmatched += 1
        else:
            book.received[owner].append(epoch_ns(created_at))
    return book
