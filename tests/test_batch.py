"""Group commit (core.batch): batches grow under load, failures stay where they belong."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence

import pytest

from core.batch import Batcher


class Recorder:
    """A batch function that records its batches and squares numbers (odd ones fail)."""

    def __init__(self, *, fail_all: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_all = fail_all
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, items: list[int]) -> Sequence[int | BaseException]:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail_all:
            raise OSError("database gone")
        return [ValueError(f"odd {i}") if i % 2 else i * i for i in items]


async def test_an_idle_batcher_runs_each_item_at_once() -> None:
    run = Recorder()
    batcher: Batcher[int, int] = Batcher(run)
    assert await batcher.submit(2) == 4
    assert await batcher.submit(4) == 16
    assert run.batches == [[2], [4]]


async def test_items_arriving_while_a_batch_runs_go_together_in_the_next() -> None:
    run = Recorder()
    run.release.clear()
    batcher: Batcher[int, int] = Batcher(run, max_size=3)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(batcher.submit(i)) for i in (2, 4, 6, 8)]
    await asyncio.sleep(0)
    run.release.set()
    assert await first == 0
    assert [await t for t in rest] == [4, 16, 36, 64]
    assert run.batches == [[0], [2, 4, 6], [8]]
    assert (batcher.batches, batcher.items) == (3, 5)


async def test_an_item_failure_fails_that_item_alone() -> None:
    batcher: Batcher[int, int] = Batcher(Recorder())
    results = await asyncio.gather(*(batcher.submit(i) for i in range(4)),
                                   return_exceptions=True)
    assert results[0] == 0 and results[2] == 4
    assert isinstance(results[1], ValueError) and isinstance(results[3], ValueError)


async def test_a_batch_failure_fails_every_item_of_it() -> None:
    batcher: Batcher[int, int] = Batcher(Recorder(fail_all=True))
    results = await asyncio.gather(*(batcher.submit(i) for i in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)


async def test_a_cancelled_caller_does_not_cancel_its_batch() -> None:
    run = Recorder()
    run.release.clear()
    batcher: Batcher[int, int] = Batcher(run)
    waiting = asyncio.create_task(batcher.submit(2))
    other = asyncio.create_task(batcher.submit(4))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    run.release.set()
    assert await other == 16
    assert run.batches == [[2, 4]]  # the cancelled caller's item was still done


async def test_posted_items_report_failures_to_their_callback() -> None:
    errors: list[BaseException] = []
    batcher: Batcher[int, int] = Batcher(Recorder())
    batcher.post(3, errors.append)
    batcher.post(2, errors.append)
    for _ in range(5):
        await asyncio.sleep(0)
    assert [str(e) for e in errors] == ["odd 3"]


def test_a_batch_needs_room_for_one_item() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(Recorder(), max_size=0)


async def test_a_failed_batch_is_run_again_one_item_at_a_time() -> None:
    seen: list[list[int]] = []

    async def run(items: list[int]) -> Sequence[int | BaseException]:
        seen.append(list(items))
        if 13 in items:
            raise OSError("the database refused one row")
        return [i + 1 for i in items]

    batcher: Batcher[int, int] = Batcher(run)
    results = await asyncio.gather(*(batcher.submit(i) for i in (1, 13, 2)),
                                   return_exceptions=True)
    assert results[0] == 2 and results[2] == 3 and isinstance(results[1], OSError)
    assert seen == [[1, 13, 2], [1], [13], [2]]
    assert (batcher.batches, batcher.items) == (1, 3)


async def test_without_isolation_a_failed_batch_fails_every_item() -> None:
    batcher: Batcher[int, int] = Batcher(Recorder(fail_all=True), isolate=False)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)


async def test_a_batch_runs_in_no_callers_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []

    async def run(items: list[int]) -> Sequence[int]:
        seen.append(var.get())
        return items

    batcher: Batcher[int, int] = Batcher(run)
    var.set("caller")
    await batcher.submit(1)
    assert seen == ["unset"]


async def test_a_lingering_batcher_gathers_items_posted_close_together() -> None:
    run = Recorder()
    batcher: Batcher[int, int] = Batcher(run, linger_s=0.05)
    errors: list[BaseException] = []
    for i in (2, 4, 6):
        batcher.post(i, errors.append)
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.1)
    assert run.batches == [[2, 4, 6]] and errors == []
