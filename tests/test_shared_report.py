"""core/monitoring/shared.py: one computation for callers that ask together, reuse while
fresh, stale served at once while one refresh runs, old values recomputed."""

from __future__ import annotations

import asyncio

import pytest

from core.monitoring.shared import Shared


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def compute(self) -> int:
        self.calls += 1
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("down")
        return self.calls


async def test_callers_asking_together_share_one_computation() -> None:
    source = Source()
    source.gate.clear()
    shared = Shared(source.compute)
    waiting = [asyncio.create_task(shared.get()) for _ in range(5)]
    await asyncio.sleep(0.01)
    source.gate.set()
    assert await asyncio.gather(*waiting) == [1] * 5
    assert source.calls == 1


async def test_fresh_is_reused_stale_is_served_while_refreshing_old_is_recomputed() -> None:
    now = [0.0]
    source = Source()
    shared = Shared(source.compute, reuse_s=1.0, stale_s=5.0, clock=lambda: now[0])
    assert await shared.get() == 1
    now[0] = 0.5
    assert await shared.get() == 1 and source.calls == 1
    now[0] = 2.0
    assert await shared.get() == 1  # stale: served at once…
    await asyncio.sleep(0.01)
    assert source.calls == 2  # …while one refresh ran
    assert await shared.get() == 2
    now[0] = 10.0
    assert await shared.get() == 3  # too old to serve: the caller waits for a new one


async def test_a_failure_reaches_the_waiting_caller_and_the_next_call_tries_again() -> None:
    source = Source()
    source.fail = True
    shared = Shared(source.compute)
    with pytest.raises(RuntimeError):
        await shared.get()
    source.fail = False
    assert await shared.get() == 2
    await shared.close()
