"""The body of one SSE response: replay, then live frames, heartbeats and session checks.

No gap, no duplicate: the listener joins the fan-out *before* the replay starts and
remembers the hub's sequence at that instant (`joined_at`). The replay covers
(`Last-Event-ID`, `joined_at`]; the listener's queue holds every event after `joined_at`.
Every frame carries its stream sequence, and a frame at or below the last one sent is
skipped, so the seam between the two sources can neither lose nor repeat an event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable

from nats.js import JetStreamContext

from core.aio import check_cancelled
from web.live.frames import HEARTBEAT, OPENING, Scope
from web.live.hub import EventHub
from web.live.listener import Listener
from web.live.replay import replay

SessionCheck = Callable[[], Awaitable[bool]]
"""True while the caller's session is still valid."""
WallClock = Callable[[], float]
"""Epoch seconds now (the app's Clock, so tests can move it)."""


class EventStream:
    """One connection: attached to the hub when its body starts, detached when it ends."""

    def __init__(self, hub: EventHub, js: JetStreamContext, scope: Scope, *,
                 last_event_id: int | None, heartbeat_s: float, session_ok: SessionCheck,
                 expires_at: float | None, wall: WallClock) -> None:
        self._hub = hub
        self._js = js
        self._scope = scope
        self._after = last_event_id
        self._heartbeat_s = heartbeat_s
        self._session_ok = session_ok
        self._expires_at = expires_at
        self._wall = wall
        self.closed_because: str | None = None

    async def body(self) -> AsyncGenerator[bytes, None]:
        """The response body; ends when the session ends or the client falls behind."""
        listener = self._hub.attach(self._scope, asyncio.current_task())
        try:
            yield OPENING
            last = listener.joined_at if self._after is None else self._after
            if self._after is not None:
                async with contextlib.aclosing(replay(self._js, self._scope.subject,
                                                      self._after, listener.joined_at),
                                               ) as history:
                    async for frame in history:
                        last = frame.seq
                        yield frame.data
            async with contextlib.aclosing(self._live(listener, last)) as live:
                async for chunk in live:
                    yield chunk
        finally:
            self._hub.detach(listener)

    async def _live(self, listener: Listener, last: int) -> AsyncGenerator[bytes, None]:
        loop = asyncio.get_running_loop()
        next_check = loop.time() + self._heartbeat_s
        while True:
            timeout = max(0.0, min(next_check, self._expiry(loop.time())) - loop.time())
            frames = await listener.take(timeout)
            if listener.overflowed:
                self.closed_because = "slow_client"
                return
            fresh = [f.data for f in frames if f.seq > last]
            if frames:
                last = max(last, frames[-1].seq)
            if fresh:
                yield b"".join(fresh)
            now = loop.time()
            if now >= next_check or now >= self._expiry(now):
                if not await self._still_valid():
                    self.closed_because = "session_ended"
                    return
                next_check = now + self._heartbeat_s
                if not frames:
                    yield HEARTBEAT

    def _expiry(self, now: float) -> float:
        """The loop time at which the credential expires (far away if it never does)."""
        if self._expires_at is None:
            return now + 3600.0
        return now + (self._expires_at - self._wall())

    async def _still_valid(self) -> bool:
        if self._expires_at is not None and self._wall() >= self._expires_at:
            return False
        valid = await self._session_ok()
        check_cancelled()  # redis-py can swallow the cancellation of a disconnect
        return valid

