"""JetStream streams and consumers: depth, lag, pending acks, redeliveries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from core import subjects

STREAMS = (subjects.COMMANDS, subjects.EVENTS, subjects.DLQ, subjects.TICKS)


@dataclass(frozen=True, slots=True)
class ConsumerStats:
    """One consumer: `pending` is its lag (messages not yet delivered)."""

    stream: str
    name: str
    durable: bool
    pending: int
    ack_pending: int
    redelivered: int
    waiting: int
    delivered_seq: int
    ack_floor_seq: int


@dataclass(frozen=True, slots=True)
class StreamStats:
    """One stream's depth and its consumers."""

    name: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumers: list[ConsumerStats]


async def _stream(js: JetStreamContext, name: str) -> StreamStats:
    info = await js.stream_info(name)
    consumers = await js.consumers_info(name)
    state = info.state
    return StreamStats(
        name=name, messages=state.messages, bytes=state.bytes, first_seq=state.first_seq,
        last_seq=state.last_seq,
        consumers=sorted((ConsumerStats(
            stream=name, name=c.name, durable=bool(c.config.durable_name),
            pending=c.num_pending or 0, ack_pending=c.num_ack_pending or 0,
            redelivered=c.num_redelivered or 0, waiting=c.num_waiting or 0,
            delivered_seq=c.delivered.stream_seq or 0 if c.delivered else 0,
            ack_floor_seq=c.ack_floor.stream_seq or 0 if c.ack_floor else 0)
            for c in consumers), key=lambda c: c.name))


async def streams(js: JetStreamContext, names: tuple[str, ...] = STREAMS) -> list[StreamStats]:
    """The named streams that exist, with their consumers."""
    async def one(name: str) -> StreamStats | None:
        try:
            return await _stream(js, name)
        except NotFoundError:
            return None  # not created yet

    return [s for s in await asyncio.gather(*(one(n) for n in names)) if s is not None]
