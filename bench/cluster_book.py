"""The failover run's plan and its verdict: what each strategy must end as, and what did.

Two kinds of strategy, dealt alternately over the schedule:
- `sell`: on a quiet symbol; BUY at its time, SELL at its sell time → position SOLD.
- `sl`: on a falling symbol (its ticks sit 10% under the fill price, the stop is 1.5%);
  BUY at its time, then the slwatch replica owning the symbol fires SL_EXIT → SL_HIT.
Each therefore expects exactly two broker orders; the paper broker's own book (joined to
`orders` on the client tag) says which arrived, and how often.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.order_book import epoch_ns
from bench.order_plan import Planned
from core.db.enums import OrderAction, OrderStatus, Position
from core.db.models import Order, PaperOrder, Strategy
from core.ids import new_id
from pipeline.slwatch.partition import Partition

EXIT_OF: Final = {"sell": OrderAction.SELL.value, "sl": OrderAction.SL_EXIT.value}
POSITION_OF: Final = {"sell": Position.SOLD.value, "sl": Position.SL_HIT.value}


def split_symbols(symbols: Sequence[str], partitions: int) -> tuple[list[str], list[str]]:
    """(quiet, falling): half the symbols fall, dealt so every slwatch partition owns some."""
    owners = [Partition.parse(f"{i}/{partitions}") for i in range(partitions)]
    by_slot: dict[int, list[str]] = defaultdict(list)
    for symbol in symbols:
        by_slot[next(i for i, p in enumerate(owners) if p.owns("NSE", symbol))].append(symbol)
    falling: list[str] = []
    while len(falling) < len(symbols) // 2:
        for slot in sorted(by_slot):
            if by_slot[slot] and len(falling) < len(symbols) // 2:
                falling.append(by_slot[slot].pop())
    return [s for s in symbols if s not in falling], falling


def plan(first: datetime, count: int, spacing: timedelta, sell_after: timedelta,
         users: Sequence[str], quiet: Sequence[str], falling: Sequence[str],
         ) -> list[Planned]:
    """`count` strategies, BUY times `spacing` apart, alternately `sell` and `sl`."""
    out: list[Planned] = []
    for i in range(count):
        at = first + i * spacing
        user = users[i % len(users)]
        if i % 2 == 0:
            out.append(Planned(new_id("str"), user, quiet[i // 2 % len(quiet)], at, "sell",
                               sell_at=at + sell_after))
        else:
            out.append(Planned(new_id("str"), user, falling[i // 2 % len(falling)], at, "sl"))
    return out


@dataclass
class Ledger:
    """Orders and broker receipts of the run, by (strategy, action)."""

    receipts: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(list))
    """Paper orders' `created_at` (epoch ns), through the order row's client tag."""
    order_status: dict[tuple[str, str], str] = field(default_factory=dict)
    positions: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Strategy → (status, position)."""
    unmatched: int = 0
    tags_repeated: int = 0


async def read_ledger(sessions: async_sessionmaker[AsyncSession]) -> Ledger:
    """Both order books and every strategy's final row."""
    async with sessions() as session:
        orders = (await session.execute(select(
            Order.strategy_id, Order.action, Order.client_tag, Order.status))).all()
        paper = (await session.execute(select(PaperOrder.client_tag,
                                              PaperOrder.created_at))).all()
        rows = (await session.execute(select(
            Strategy.id, Strategy.status, Strategy.position))).all()
    ledger = Ledger()
    by_tag: dict[str, tuple[str, str]] = {}
    for strategy_id, action, tag, status in orders:
        by_tag[tag] = (strategy_id, action)
        ledger.order_status[(strategy_id, action)] = status
    tags = Counter(paper_tag for paper_tag, _ in paper)
    ledger.tags_repeated = sum(1 for n in tags.values() if n > 1)
    for paper_tag, created_at in paper:
        key = by_tag.get(paper_tag) if paper_tag is not None else None
        if key is None:
            ledger.unmatched += 1
        else:
            ledger.receipts[key].append(epoch_ns(created_at))
    ledger.positions = {sid: (status, position) for sid, status, position in rows}
    return ledger


def settled(planned: Sequence[Planned], ledger: Ledger) -> bool:
    """True once every strategy's exit order is final (FILLED, REJECTED, …)."""
    final = {OrderStatus.FILLED.value, OrderStatus.REJECTED.value, OrderStatus.FAILED.value,
             OrderStatus.SKIPPED.value, OrderStatus.CANCELLED.value}
    return all(ledger.order_status.get((p.strategy_id, EXIT_OF[p.phase])) in final
               for p in planned)


def verdict(planned: Sequence[Planned], ledger: Ledger) -> dict[str, Any]:
    """Orders expected / placed / duplicated / lost, and strategies not in their end state."""
    expected = [(p.strategy_id, action) for p in planned
                for action in (OrderAction.BUY.value, EXIT_OF[p.phase])]
    placed = sum(len(ledger.receipts.get(key, ())) for key in expected)
    lost = [key for key in expected if not ledger.receipts.get(key)]
    duplicated = sum(max(0, len(ledger.receipts.get(key, ())) - 1) for key in expected)
    unexpected = sum(len(v) for k, v in ledger.receipts.items() if k not in set(expected))
    not_filled = [key for key in expected
                  if ledger.order_status.get(key) != OrderStatus.FILLED.value]
    wrong = {p.strategy_id: ledger.positions.get(p.strategy_id) for p in planned
             if (ledger.positions.get(p.strategy_id) or ("", ""))[1] != POSITION_OF[p.phase]}
    return {
        "strategies": len(planned),
        "strategies_sell": sum(1 for p in planned if p.phase == "sell"),
        "strategies_sl": sum(1 for p in planned if p.phase == "sl"),
        "orders_expected": len(expected),
        "orders_placed": placed,
        "orders_duplicated": duplicated + unexpected + ledger.unmatched,
        "orders_lost": len(lost),
        "lost_examples": [":".join(k) for k in lost[:5]],
        "orders_not_filled": len(not_filled),
        "paper_tags_repeated": ledger.tags_repeated,
        "strategies_wrong_state": len(wrong),
        "wrong_state_examples": {k: list(v) if v else None for k, v in list(wrong.items())[:5]},
        "final_states": dict(Counter(f"{s}/{p}" for s, p in ledger.positions.values())),
    }


def stall(planned: Sequence[Planned], ledger: Ledger, down_ns: int, up_ns: int,
          ) -> dict[str, float | None]:
    """How long the pipeline stood still around the outage: the longest gap between two
    broker receipts from the kill to the node's return, and the longest a BUY due in that
    time waited for the broker (its schedule → receipt) against the median before it."""
    times = sorted(t for v in ledger.receipts.values() for t in v)
    inside = [down_ns] + [t for t in times if down_ns <= t <= up_ns]
    after = next((t for t in times if t > up_ns), up_ns)
    gaps = [b - a for a, b in zip(inside, [*inside[1:], after], strict=True)]
    delays_before: list[float] = []
    delays_during: list[float] = []
    for p in planned:
        got = ledger.receipts.get((p.strategy_id, OrderAction.BUY.value))
        if not got:
            continue
        due = epoch_ns(p.at)
        delay = (min(got) - due) / 1e9
        if due < down_ns:
            delays_before.append(delay)
        elif due <= up_ns:
            delays_during.append(delay)
    median = sorted(delays_before)[len(delays_before) // 2] if delays_before else None
    return {"stall_s": round(max(gaps) / 1e9, 3),
            "orders_placed_while_down": len(inside) - 1,
            "buy_delay_before_kill_p50_s": None if median is None else round(median, 3),
            "buy_delay_during_outage_max_s":
                round(max(delays_during), 3) if delays_during else None}
