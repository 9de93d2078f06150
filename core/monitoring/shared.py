"""An expensive report computed once for the callers that ask together, then reused.

Admin dashboards poll /admin/system/health and /metrics every second or two, from several
consoles at once; each report is a fan-out of a dozen queries. `Shared` keeps the last
report: younger than `reuse_s` it is returned as is; younger than `stale_s` it is returned
at once while one refresh runs in the background; older (or failing) it is computed while
the caller waits, and callers that arrive meanwhile wait for that same computation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, Generic, TypeVar

T = TypeVar("T")

REUSE_S: Final = 1.0
STALE_S: Final = 5.0

log = logging.getLogger("algo.monitoring")


class Shared(Generic[T]):
    """The last value of `compute`, shared as described above."""

    def __init__(self, compute: Callable[[], Awaitable[T]], *, reuse_s: float = REUSE_S,
                 stale_s: float = STALE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._compute = compute
        self._reuse_s = reuse_s
        self._stale_s = stale_s
        self._clock = clock
        self._value: T | None = None
        self._at = 0.0
        self._running: asyncio.Task[T] | None = None

    async def get(self) -> T:
        """The value, fresh enough by the rules above."""
        if self._value is not None:
            age = self._clock() - self._at
            if age < self._reuse_s:
                return self._value
            if age < self._stale_s:
                self._refresh()
                return self._value
        # Shielded: a caller that gives up does not cancel the others' computation.
        return await asyncio.shield(self._refresh())

    def _refresh(self) -> asyncio.Task[T]:
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._store(), name="shared-report")
            self._running.add_done_callback(_log_failure)
        return self._running

    async def _store(self) -> T:
        value = await self._compute()
        self._value, self._at = value, self._clock()
        return value

    async def close(self) -> None:
        """Cancel a refresh still running (at shutdown)."""
        if self._running is not None and not self._running.done():
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("report refresh failed", exc_info=task.exception())
