"""Replaying what a reconnecting client missed (`Last-Event-ID`, LIVE-3).

A short-lived ordered consumer, filtered to the connection's scope, reads the stream from
the sequence after the client's last one up to the sequence at which the connection joined
the live fan-out; from there on the live queue has every event. The consumer is deleted as
soon as the replay ends, however it ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Final

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from core import subjects
from core.aio import check_cancelled
from web.live.frames import Frame, frame_of

IDLE_CHECK_S: Final = 1.0
"""How long to wait for the next replayed message before asking the server what is left."""
INACTIVE_THRESHOLD_S: Final = 5.0
"""The server removes the consumer on its own this long after a crashed process left it."""


async def replay(js: JetStreamContext, subject: str, after: int, upto: int,
                 ) -> AsyncGenerator[Frame, None]:
    """The events on `subject` with stream sequence in (`after`, `upto`], in order."""
    if upto <= after:
        return
    sub = await js.subscribe(
        subject, stream=subjects.EVENTS, ordered_consumer=True,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        inactive_threshold=INACTIVE_THRESHOLD_S,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                              opt_start_seq=after + 1))
    try:
        info = await sub.consumer_info()
        if info.num_pending == 0 and not (info.delivered and info.delivered.consumer_seq):
            return  # nothing on this subject since `after`
        while True:
            try:
                msg = await sub.next_msg(timeout=IDLE_CHECK_S)
            except (NatsTimeoutError, TimeoutError):
                # nats-py turns a cancellation of next_msg into its TimeoutError.
                check_cancelled()
                info = await sub.consumer_info()
                if info.num_pending == 0 and sub.pending_msgs == 0:
                    return
                continue
            meta = msg.metadata
            seq = meta.sequence.stream
            if seq > upto:
                return  # already queued live
            frame = frame_of(msg.subject, seq, msg.data)
            if frame is not None:
                yield frame
            if seq == upto or meta.num_pending == 0:
                return
    finally:
        await _close(js, sub)


async def _close(js: JetStreamContext, sub: JetStreamContext.PushSubscription) -> None:
    consumer = getattr(sub, "_consumer", None)
    with contextlib.suppress(Exception):
        await sub.unsubscribe()
    if consumer:
        with contextlib.suppress(Exception):
            await js.delete_consumer(subjects.EVENTS, consumer)
