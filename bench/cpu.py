"""CPU use of a benchmark's processes over a window, from Linux's /proc."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

from core.embedded.stack import EmbeddedStack


class CpuMeter:
    """CPU use over a window, from Linux's /proc (nothing is reported where it is missing):
    the whole machine, the processes of this benchmark (its descendants and PostgreSQL's),
    so that load from anything else on the machine shows, and named groups of processes
    (each with its descendants)."""

    def __init__(self, groups: dict[str, list[int]], roots: list[int]) -> None:
        self._groups = groups
        self._roots = roots
        self._began: tuple[float, float, dict[int, tuple[int, float]]] | None = None

    def start(self) -> None:
        """Begin a window."""
        if Path("/proc/stat").exists():
            self._began = (time.monotonic(), _machine_busy_s(), _processes())

    def stop(self, prefix: str, orders: int) -> dict[str, float]:
        """End the window: machine busy % (100 = every core busy), cores used by this
        benchmark's processes and by others, and per group its cores and CPU ms per order."""
        if self._began is None:
            return {}
        wall0, busy0, before = self._began
        wall = time.monotonic() - wall0
        busy = _machine_busy_s() - busy0
        after = _processes()
        # A process that ended meanwhile left its CPU time to its parent's children's time.
        ours = sum(after[pid][1] for pid in _descendants(after, self._roots)) \
            - sum(before[pid][1] for pid in _descendants(before, self._roots))
        spent = {pid: cpu - before.get(pid, (0, 0.0))[1] for pid, (_, cpu) in after.items()}
        result = {f"{prefix}_machine_busy_pct": round(100 * busy / wall / (os.cpu_count() or 1), 1),
                  f"{prefix}_bench_cores": round(ours / wall, 2),
                  f"{prefix}_other_cores": round(max(0.0, busy - ours) / wall, 2)}
        for group, roots in self._groups.items():
            used = sum(spent.get(pid, 0.0) for pid in _descendants(after, roots))
            result[f"{prefix}_{group}_cores"] = round(used / wall, 2)
            result[f"{prefix}_{group}_cpu_ms_per_order"] = round(1000 * used / orders, 2)
        return result


def _machine_busy_s() -> float:
    """CPU seconds every core has spent busy since boot."""
    with Path("/proc/stat").open() as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, float]]:
    """Every process: its parent, and the user + system CPU seconds of it and of its
    children that ended (PostgreSQL's pool overflow connections come and go)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        found[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    return found


def _descendants(processes: dict[int, tuple[int, float]], roots: list[int]) -> set[int]:
    """`roots` and every process below them."""
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in processes.items():
        children[ppid].append(pid)
    found: set[int] = set()
    todo = [pid for pid in roots if pid in processes]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children[pid]
    return found


def postmaster_pid(stack: EmbeddedStack) -> list[int]:
    """The embedded PostgreSQL's postmaster (it runs outside this process's tree)."""
    if stack.postgres is None:
        return []
    try:
        return [int((stack.postgres.pgdata / "postmaster.pid").read_text().split()[0])]
    except (OSError, ValueError, IndexError):
        return []
