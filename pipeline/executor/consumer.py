"""The executor's JetStream side: a durable pull consumer on `cmd.order.>`.

Up to `concurrency` commands are worked on at once. Each is acknowledged with `ack_sync()`
only after its outcome is committed and announced; while a broker call runs the message
is kept alive with `in_progress()`. A failure is retried by redelivery (nak with backoff)
until `max_deliver`, after which the command goes to the dead-letter stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core import subjects
from core.aio import cancel_and_wait
from core.messages import OrderCommand, decoder
from core.trace import TRACE_HEADER, clean_trace_id, new_trace_id, reset_trace_id, set_trace_id
from pipeline.executor.errors import Busy, Permanent

log = logging.getLogger("algo.pipeline.executor")

DURABLE: Final = "executor"
FETCH_MAX: Final = 32
"""Commands asked for per fetch, however many slots are free."""
_decode = decoder(OrderCommand)

Handle = Callable[[OrderCommand], Awaitable[object]]
DeadLetter = Callable[[Msg, OrderCommand | None, str], Awaitable[None]]


def consumer_config(*, ack_wait_s: float, max_deliver: int, max_ack_pending: int,
                    ) -> ConsumerConfig:
    """The executor's durable consumer."""
    return ConsumerConfig(
        durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait_s, max_deliver=max_deliver, max_ack_pending=max_ack_pending,
        filter_subject=subjects.COMMANDS_ALL)


def _backoff(deliveries: int) -> float:
    """1, 2, 4 … 30 s, each ±25%: commands that failed together (one batch) come back
    apart, so they are not batched together again and again."""
    return float(min(2 ** max(0, deliveries - 1), 30)) * random.uniform(0.75, 1.25)  # noqa: S311


class CommandConsumer:
    """Fetches commands and runs `handle` on each, `concurrency` at a time."""

    def __init__(self, js: JetStreamContext, handle: Handle, dead_letter: DeadLetter, *,
                 concurrency: int, ack_wait_s: float, max_deliver: int) -> None:
        self._js = js
        self._handle = handle
        self._dead_letter = dead_letter
        self._concurrency = concurrency
        self._ack_wait_s = ack_wait_s
        self._max_deliver = max_deliver
        self._slots = asyncio.Semaphore(concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._running = False
        self._backlog = 0
        """Commands waiting in the stream after the last one fetched (its metadata)."""
        self.handled = 0
        self.dead_lettered = 0

    async def start(self) -> None:
        """Create or update the durable consumer to these settings, bind it, start fetching."""
        # pull_subscribe alone would keep an existing consumer's old max_deliver/ack_wait.
        await self._js.add_consumer(subjects.COMMANDS, consumer_config(
            ack_wait_s=self._ack_wait_s, max_deliver=self._max_deliver,
            max_ack_pending=self._concurrency * 4))
        self._sub = await self._js.pull_subscribe_bind(DURABLE, stream=subjects.COMMANDS)
        self._running = True
        self._loop_task = asyncio.create_task(self._loop(), name="executor-fetch")

    async def stop(self, timeout_s: float) -> None:
        """Stop fetching and let in-flight commands finish (unfinished ones are redelivered)."""
        self._running = False
        if self._loop_task is not None:
            await cancel_and_wait([self._loop_task])
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=timeout_s)
            await cancel_and_wait(pending)
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    async def _loop(self) -> None:
        while self._running:
            await self._slots.acquire()
            free = 1
            while free < self._concurrency and not self._slots.locked():
                await self._slots.acquire()
                free += 1
            asked = fetch_size(free, self._backlog)
            try:
                # Past a stale backlog (another replica took those commands), a batch fetch
                # may hold a new command while it waits for more: not for long.
                messages = await self._sub.fetch(asked, timeout=1.0 if asked == 1 else 0.1)
            except (NatsTimeoutError, TimeoutError):
                messages = []
            except Exception as exc:  # noqa: BLE001 — NATS reconnecting: keep trying
                log.warning("fetch failed: %s", exc)
                messages = []
                await asyncio.sleep(0.5)
            # A fetch can hand back more than asked (nats-py drains its pending queue): the
            # extra ones go back, so the slots always count the commands in hand.
            for extra in messages[free:]:
                with contextlib.suppress(Exception):
                    await extra.nak()
            messages = messages[:free]
            for _ in range(free - len(messages)):
                self._slots.release()
            # Fewer than asked: none was left to give, whatever an earlier delivery said.
            self._backlog = pending_after(messages[-1]) if len(messages) >= asked else 0
            for msg in messages:
                task = asyncio.create_task(self._one(msg))
                self._inflight.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _one(self, msg: Msg) -> None:
        headers = msg.headers or {}
        token = set_trace_id(clean_trace_id(headers.get(TRACE_HEADER)) or new_trace_id())
        keepalive = asyncio.create_task(_keep_alive(msg, self._ack_wait_s / 3))
        command: OrderCommand | None = None
        try:
            try:
                command = _decode.decode(msg.data)
            except msgspec.DecodeError as exc:
                raise Permanent(f"undecodable command: {exc}") from exc
            if msg.subject != subjects.order_command(command.user_id, command.strategy_id):
                raise Permanent(f"command body does not match its subject {msg.subject}")
            await self._handle(command)
        except Permanent as exc:
            await self._bury(msg, command, str(exc))
        except Busy as exc:
            await self._retry(msg, command, exc, exc.retry_after_s + 0.1)
        except Exception as exc:  # noqa: BLE001 — any failure: retry, then dead-letter
            await self._retry(msg, command, exc, _backoff(msg.metadata.num_delivered))
        else:
            self.handled += 1
            await msg.ack_sync()
        finally:
            keepalive.cancel()
            reset_trace_id(token)

    async def _retry(self, msg: Msg, command: OrderCommand | None, exc: BaseException,
                     delay_s: float) -> None:
        deliveries = msg.metadata.num_delivered
        if deliveries >= self._max_deliver:
            await self._bury(msg, command, f"{type(exc).__name__}: {exc}")
            return
        if not isinstance(exc, Busy):
            log.warning("command failed (delivery %s of %s), will retry: %s", deliveries,
                        self._max_deliver, exc, exc_info=exc,
                        extra={"strategy_id": command and command.strategy_id})
        with contextlib.suppress(Exception):
            await msg.nak(delay=delay_s)

    async def _bury(self, msg: Msg, command: OrderCommand | None, reason: str) -> None:
        log.error("command dead-lettered: %s", reason,
                  extra={"subject": msg.subject,
                         "strategy_id": command and command.strategy_id})
        await self._dead_letter(msg, command, reason)
        self.dead_lettered += 1
        await msg.ack_sync()


def fetch_size(free: int, backlog: int) -> int:
    """How many commands to ask for: one, unless more are known to be waiting.

    nats-py's fetch(n) hands the first command over only once n have come or the server
    has said that no more are waiting; after idle fetches have timed out, that word
    sometimes does not come, and the first command then waits for the next one to be
    published (measured: 11 of 200 commands at 50/s waited one interval, about 20 ms).
    Asking for no more than are waiting, nothing waits for company; a backlog is still
    taken up to FETCH_MAX at a time, as free slots allow.
    """
    return max(1, min(free, FETCH_MAX, backlog))


def pending_after(msg: Msg) -> int:
    """Commands waiting in the stream for this consumer after `msg` (0 if unknown)."""
    try:
        return int(msg.metadata.num_pending)
    except Exception:  # noqa: BLE001 — not a JetStream delivery: assume nothing waits
        return 0


async def _keep_alive(msg: Msg, every_s: float) -> None:
    """`in_progress()` every third of the ack wait while the command is worked on, so a long
    broker call is never mistaken for a dead worker (and redelivered to another)."""
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(Exception):
            await msg.in_progress()
