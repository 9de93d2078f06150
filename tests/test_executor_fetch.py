"""How many commands the executor asks JetStream for at a time (pipeline.executor.consumer):
one when nothing is known to wait, so a command never waits for the next one to be
published; as many as wait (within the free slots and FETCH_MAX) during a backlog."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from pipeline.executor.consumer import FETCH_MAX, fetch_size, pending_after


@pytest.mark.parametrize(("free", "backlog", "expected"), [
    (128, 0, 1),               # nothing known to wait: one
    (1, 0, 1),
    (128, 5, 5),               # as many as wait
    (3, 5, 3),                 # within the free slots
    (128, 500, FETCH_MAX),     # and FETCH_MAX
])
def test_fetch_size(free: int, backlog: int, expected: int) -> None:
    assert fetch_size(free, backlog) == expected


async def test_the_backlog_is_read_from_the_last_delivery(js: JetStreamContext,
                                                           nc: NatsClient) -> None:
    await js.add_stream(StreamConfig(name="FETCHSIZE", subjects=["fetchsize.>"]))
    try:
        for n in range(3):
            await js.publish("fetchsize.x", str(n).encode())
        await js.add_consumer("FETCHSIZE", ConsumerConfig(
            durable_name="probe", ack_policy=AckPolicy.EXPLICIT))
        sub = await js.pull_subscribe_bind("probe", stream="FETCHSIZE")
        [first] = await sub.fetch(1, timeout=2.0)
        assert pending_after(first) == 2
        rest = await sub.fetch(fetch_size(128, pending_after(first)), timeout=2.0)
        assert [m.data for m in rest] == [b"1", b"2"]
        assert pending_after(rest[-1]) == 0
        await sub.unsubscribe()
    finally:
        await js.delete_stream("FETCHSIZE")
    # A plain NATS message carries no JetStream metadata: nothing is assumed to wait.
    assert pending_after(Msg(nc, subject="x", reply="", data=b"")) == 0
