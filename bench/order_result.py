"""The order latency benchmark's figures: percentiles of each step, every strategy checked
for exactly one command and one paper order, the per-order CSV, and the verdict against
the issue's targets."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.order_book import Book, CommandWatch, epoch_ns
from bench.order_plan import BURST, Planned


def pct(samples: Sequence[float], q: float) -> float | None:
    """The q-quantile (nearest rank below), None when there are no samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def spread_ms(samples: Sequence[float], name: str) -> dict[str, float | None]:
    """p50, p99 and max of millisecond samples."""
    return {f"{name}_p50_ms": pct(samples, 0.50), f"{name}_p99_ms": pct(samples, 0.99),
            f"{name}_max_ms": round(max(samples), 2) if samples else None}


def exactly_once(prefix: str, planned: Sequence[Planned], watch: CommandWatch,
                 book: Book) -> dict[str, Any]:
    """Counts, and each strategy checked for exactly one command and one paper order."""
    ids = [p.strategy_id for p in planned]
    missing = [sid for sid in ids if not book.received.get(sid)]
    twice = [sid for sid in ids if len(book.received.get(sid, ())) > 1]
    return {
        f"{prefix}_strategies": len(ids),
        f"{prefix}_commands_seen": sum(len(watch.issued.get(sid, ())) for sid in ids),
        f"{prefix}_commands_repeated": sum(1 for sid in ids if len(watch.issued.get(sid, ())) > 1),
        f"{prefix}_paper_orders": sum(len(book.received.get(sid, ())) for sid in ids),
        f"{prefix}_filled": sum(1 for sid in ids if sid in book.filled_at),
        f"{prefix}_missing": len(missing),
        f"{prefix}_missing_examples": missing[:5],
        f"{prefix}_duplicate_strategies": len(twice),
        f"{prefix}_duplicate_examples": twice[:5],
    }


def steady_result(planned: Sequence[Planned], watch: CommandWatch,
                  book: Book) -> dict[str, Any]:
    """Fire → received (split at the intent row), scheduled → fire and fire → FILLED, in ms."""
    to_received: list[float] = []
    to_intent: list[float] = []
    intent_to_received: list[float] = []
    lateness: list[float] = []
    to_filled: list[float] = []
    for p in planned:
        fired = watch.issued.get(p.strategy_id)
        if not fired:
            continue
        lateness.append((fired[0] - epoch_ns(p.at)) / 1e6)
        received = book.received.get(p.strategy_id)
        intent = book.intent_at.get(p.strategy_id)
        if received:
            to_received.append((min(received) - fired[0]) / 1e6)
        if intent is not None:
            to_intent.append((intent - fired[0]) / 1e6)
            if received:
                intent_to_received.append((min(received) - intent) / 1e6)
        if p.strategy_id in book.filled_at:
            to_filled.append((book.filled_at[p.strategy_id] - fired[0]) / 1e6)
    return {**exactly_once("steady", planned, watch, book),
            **spread_ms(to_received, "steady_fire_to_received"),
            **spread_ms(to_intent, "steady_fire_to_intent"),
            **spread_ms(intent_to_received, "steady_intent_to_received"),
            **spread_ms(lateness, "steady_schedule_to_fire"),
            **spread_ms(to_filled, "steady_fire_to_filled")}


def burst_result(planned: Sequence[Planned], watch: CommandWatch,
                 book: Book) -> dict[str, Any]:
    """From the common instant to the last fire, last paper order and last FILLED, in ms."""
    at = epoch_ns(planned[0].at)

    def last_ms(values: Iterable[int]) -> float | None:
        values = list(values)
        return round((max(values) - at) / 1e6, 1) if values else None

    ids = [p.strategy_id for p in planned]
    return {**exactly_once("burst", planned, watch, book),
            "burst_users": len({p.user_id for p in planned}),
            "burst_to_last_fire_ms": last_ms(t for sid in ids for t in watch.issued.get(sid, ())),
            "burst_to_last_received_ms": last_ms(
                t for sid in ids for t in book.received.get(sid, ())),
            "burst_to_last_filled_ms": last_ms(
                book.filled_at[sid] for sid in ids if sid in book.filled_at)}


def write_samples(path: Path, planned: Sequence[Planned], watch: CommandWatch,
                  book: Book) -> None:
    """One CSV row per strategy with its instants (epoch ns; empty when missing)."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phase", "strategy_id", "user_id", "scheduled_ns", "fired_ns",
                         "intent_ns", "received_ns", "filled_ns", "commands", "paper_orders"])
        for p in planned:
            fired = watch.issued.get(p.strategy_id, [])
            received = book.received.get(p.strategy_id, [])
            writer.writerow([p.phase, p.strategy_id, p.user_id, epoch_ns(p.at),
                             fired[0] if fired else "", book.intent_at.get(p.strategy_id, ""),
                             min(received) if received else "",
                             book.filled_at.get(p.strategy_id, ""), len(fired), len(received)])


def verdict(result: dict[str, Any], book: Book) -> dict[str, Any]:
    """The issue's targets, met or not, and any exactly-once problem."""
    problems = [f"{key}={value}" for key, value in result.items()
                if key.endswith(("_missing", "_duplicate_strategies", "_commands_repeated"))
                and value]
    if book.tags_repeated:
        problems.append(f"paper client tags repeated={book.tags_repeated}")
    if book.unmatched:
        problems.append(f"paper orders without an order row={book.unmatched}")
    p99 = result.get("steady_fire_to_received_p99_ms")
    drain = result.get("burst_to_last_filled_ms")
    return {"target_steady_p99_le_20ms": p99 is not None and p99 <= 20,
            "target_burst_le_2s_exactly_1000": drain is not None and drain <= 2000
            and result["burst_paper_orders"] == BURST and not result["burst_missing"]
            and not result["burst_duplicate_strategies"],
            "problems": problems}
