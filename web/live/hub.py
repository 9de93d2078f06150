"""The fan-out: one ordered consumer on `events.>` per web process, handing every event to
the connections whose scope admits it (DESIGN §3).

Thousands of connections share this one consumer. Routing reads only the subject
(`events.{user}.{strategy}.{type}`); the SSE frame is encoded once per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Final

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from core import subjects
from core.aio import cancel_and_wait, check_cancelled
from web.live.frames import Frame, Scope, frame_of
from web.live.listener import Listener

log = logging.getLogger("algo.web.live")

RETRY_S: Final = 1.0


class EventHub:
    """Routes events to listeners by user; admin listeners see every event."""

    def __init__(self, js: JetStreamContext, queue_limit: int) -> None:
        self._js = js
        self._limit = queue_limit
        self._by_user: defaultdict[str, set[Listener]] = defaultdict(set)
        self._everyone: set[Listener] = set()
        self._sub: JetStreamContext.PushSubscription | None = None
        self._retry: asyncio.Task[None] | None = None
        self.last_seq = 0
        """The stream sequence of the last event handed out (or the stream's last at start)."""
        self.dropped = 0
        """Listeners cut off for falling too far behind."""

    @property
    def listeners(self) -> int:
        """Connections currently attached."""
        return len(self._everyone) + sum(len(s) for s in self._by_user.values())

    @property
    def ready(self) -> bool:
        """True once the hub follows the stream (before that, no stream can be served)."""
        return self._sub is not None

    async def start(self) -> None:
        """Follow EVENTS from its current end; if NATS or the stream is not there yet, keep
        trying in the background (the web process serves everything else meanwhile)."""
        try:
            await self._follow()
        except Exception as exc:  # noqa: BLE001 — NATS down or streams not created yet
            log.warning("live events unavailable, retrying: %s", exc)
            self._retry = asyncio.create_task(self._follow_eventually(), name="hub-start")

    async def _follow(self) -> None:
        info = await self._js.stream_info(subjects.EVENTS)
        self.last_seq = info.state.last_seq
        self._sub = await self._js.subscribe(
            subjects.EVENTS_ALL, stream=subjects.EVENTS, cb=self._on_msg, ordered_consumer=True,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                  opt_start_seq=self.last_seq + 1))

    async def _follow_eventually(self) -> None:
        while self._sub is None:
            await asyncio.sleep(RETRY_S)
            try:
                await self._follow()
            except Exception as exc:  # noqa: BLE001 — keep trying
                log.debug("live events still unavailable: %s", exc)
            check_cancelled()
        log.info("live events available")

    async def stop(self) -> None:
        """Stop following (the server removes the ephemeral consumer)."""
        if self._retry is not None:
            await cancel_and_wait([self._retry])
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def attach(self, scope: Scope, task: asyncio.Task[object] | None) -> Listener:
        """A listener that receives every event after `last_seq` that `scope` admits."""
        listener = Listener(scope, self._limit, task)
        listener.joined_at = self.last_seq
        if scope.user_id is None:
            self._everyone.add(listener)
        else:
            self._by_user[scope.user_id].add(listener)
        return listener

    def detach(self, listener: Listener) -> None:
        """Forget a listener (its queue goes with it)."""
        user_id = listener.scope.user_id
        if user_id is None:
            self._everyone.discard(listener)
            return
        group = self._by_user.get(user_id)
        if group is not None:
            group.discard(listener)
            if not group:
                del self._by_user[user_id]

    def publish(self, frame: Frame) -> None:
        """Hand a frame to every listener whose scope admits it."""
        self.last_seq = frame.seq
        group = self._by_user.get(frame.user_id)
        for targets in (group, self._everyone):
            if not targets:
                continue
            for listener in tuple(targets):
                if listener.scope.admits(frame):
                    listener.offer(frame)
                    if listener.overflowed:
                        self.dropped += 1
                        self.detach(listener)

    async def _on_msg(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        frame = frame_of(msg.subject, seq, msg.data)
        if frame is None:
            self.last_seq = seq
            log.warning("event on an unexpected subject skipped", extra={"subject": msg.subject})
            return
        self.publish(frame)
