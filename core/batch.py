"""Group commit: concurrent callers' work done together, one batch at a time.

Each `submit` joins the next batch. While a batch runs, new submissions queue up and go
together in the one after it, so an idle process runs batches of one (no added wait) and a
busy one runs larger batches (one transaction, one round trip for many callers). A caller
that is cancelled does not cancel its batch: the work may still be done, as with any
request whose reply is lost, so batched work must be safe to repeat.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

RunBatch = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]
"""Does a batch's work; returns one result per item, in order (an exception fails that
item alone). Raising fails every item of the batch."""


class Batcher(Generic[T, R]):
    """Runs submitted items through `run` in batches of at most `max_size`."""

    def __init__(self, run: RunBatch[T, R], *, max_size: int = 64, isolate: bool = True,
                 linger_s: float = 0.0) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._run = run
        self._max_size = max_size
        self._isolate = isolate
        self._linger_s = linger_s
        """How long a batch waits for company before it runs (for work nobody waits on)."""
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        """Have `item` done with the next batch; its result, or its exception raised."""
        return await self._enqueue(item)  # a cancelled caller cancels its future alone

    def post(self, item: T, on_error: Callable[[BaseException], None]) -> None:
        """Have `item` done with the next batch without waiting for it; a failure goes to
        `on_error`."""
        def done(future: asyncio.Future[R]) -> None:
            error = None if future.cancelled() else future.exception()
            if error is not None:
                on_error(error)

        self._enqueue(item).add_done_callback(done)

    async def _results(self, batch: list[tuple[T, asyncio.Future[R]]],
                       ) -> Sequence[R | BaseException]:
        results = await self._run([item for item, _ in batch])
        if len(results) != len(batch):
            raise RuntimeError(f"a batch of {len(batch)} gave {len(results)} results")
        return results

    async def drain(self) -> None:
        """Wait until everything submitted or posted so far has run (at shutdown)."""
        while self._drainer is not None:
            await asyncio.shield(self._drainer)

    def _enqueue(self, item: T) -> asyncio.Future[R]:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain(), name="batcher",
                                                context=contextvars.Context())
        return future

    async def _drain(self) -> None:
        try:
            if self._linger_s:
                await asyncio.sleep(self._linger_s)
            while self._queue:
                batch = self._queue[:self._max_size]
                del self._queue[:self._max_size]
                self.batches += 1
                self.items += len(batch)
                await self._one(batch)
        finally:
            self._drainer = None
            for _, future in self._queue:  # only left when the drainer was cancelled
                future.cancel()
            self._queue.clear()

    async def _one(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._results(batch)
        except Exception as exc:  # noqa: BLE001 — handed to every caller of the batch
            if not self._isolate or len(batch) == 1:
                results = [exc] * len(batch)
            else:
                for single in batch:  # each alone: only the culprit fails
                    await self._one([single])
                return
        except BaseException:  # cancelled (shutdown): no caller is left waiting
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
