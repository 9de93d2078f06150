"""Event-loop helpers: uvloop where the platform has it (DESIGN §11), bounded cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("algo.aio")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` with uvloop's event loop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], timeout_s: float = 2.0) -> None:
    """Cancel `tasks` and wait up to `timeout_s` for them to end.

    Bounded on purpose: a task whose cancellation was swallowed somewhere below it (a
    client library catching CancelledError inside a call) would otherwise hold a shutdown
    for ever. One still running afterwards is logged and left to the loop's end.
    """
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    # Cancel again and again: one cancellation can be lost (redis-py 8 has been seen to
    # return normally from a cancelled call), a repeated one reaches the next await.
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.05, timeout_s))
    for task in pending:
        log.error("task did not stop when cancelled", extra={"task": task.get_name()})


def check_cancelled() -> None:
    """Raise CancelledError if the current task was cancelled and a client swallowed it
    (loops call this after Redis or NATS calls)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Background:
    """Fire-and-forget work a service still owns: failures are logged, `drain` lets it
    finish for a while at shutdown, then cancels what is left."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def drain(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the work in flight, then cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            await cancel_and_wait(pending)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s failed", self._what, exc_info=task.exception())
