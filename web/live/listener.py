"""One SSE connection's bounded queue of frames."""

from __future__ import annotations

import asyncio
from collections import deque

from web.live.frames import Frame, Scope


class Listener:
    """Frames waiting for one client. A client that lets `limit` frames pile up is cut off
    (its task cancelled), so one slow reader never holds memory or slows anybody else."""

    __slots__ = ("_frames", "_limit", "_task", "_wake", "joined_at", "overflowed", "scope")

    def __init__(self, scope: Scope, limit: int, task: asyncio.Task[object] | None) -> None:
        self.scope = scope
        self.joined_at = 0
        """The hub's last sequence when this listener joined: every later event is queued
        here, every earlier one is history (replayed from the stream)."""
        self.overflowed = False
        self._frames: deque[Frame] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self._task = task

    def __len__(self) -> int:
        return len(self._frames)

    def offer(self, frame: Frame) -> None:
        """Queue a frame (called by the hub, never blocks); overflowing cuts the client off."""
        if self.overflowed:
            return
        if len(self._frames) >= self._limit:
            self.overflowed = True
            self._frames.clear()
            self._wake.set()
            if self._task is not None:
                # The connection's task may be blocked writing to a client that does not
                # read: only a cancellation frees it.
                self._task.cancel()
            return
        self._frames.append(frame)
        self._wake.set()

    async def take(self, timeout_s: float) -> list[Frame]:
        """Every queued frame, waiting up to `timeout_s` for one ([] on timeout)."""
        if not self._frames and not self.overflowed:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout_s)
            except TimeoutError:
                return []
        frames = list(self._frames)
        self._frames.clear()
        return frames
