"""The dead-letter queue as admins work it (RUN-7, ADM-2): list, inspect, retry once, discard.

A retry publishes the parked command again on its own subject with a `Nats-Msg-Id` fixed
by the DLQ message (`{strategy}:{day}:{action}:retry:{seq}`): the original id is still in
the COMMANDS stream's 24 h window and would be dropped, while a repeated retry of the same
message must be. One `dlq_retries` row per message (unique) makes it once for good. The
executor then treats the command as it treats any redelivery: if the intent's order row
already exists it continues from that row, so a retry never makes a second order.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.errors import Conflict, NotFound, Unavailable
from core.messages import OrderCommand, decoder
from core.repos import audit, dlq_retries
from core.repos.audit import Actor
from core.repos.dlq_retries import RetryView
from core.trace import TRACE_HEADER, current_trace_id

REASON_HEADER: Final = subjects.DLQ_REASON_HEADER
SUBJECT_HEADER: Final = subjects.DLQ_SUBJECT_HEADER
DELIVERIES_HEADER: Final = subjects.DLQ_DELIVERIES_HEADER
RETRY_OF_HEADER: Final = "Algo-Retry-Of"
"""On a retried command: the DLQ sequence it came from."""
MAX_RAW_CHARS: Final = 4_000

_decode = decoder(OrderCommand)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One parked message and, if it was retried, that retry."""

    seq: int
    subject: str
    original_subject: str | None
    reason: str | None
    deliveries: int | None
    msg_id: str | None
    parked_at: datetime | None
    command: dict[str, Any] | None
    """The body as JSON, when it is JSON."""
    raw: str | None
    """The body as text, when it is not JSON."""
    retry: RetryView | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterPage:
    """Oldest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[DeadLetter]
    next_cursor: int | None


def retry_msg_id(command: OrderCommand, dlq_seq: int) -> str:
    """The de-duplication key of the retry of one DLQ message."""
    natural = subjects.order_msg_id(command.strategy_id, command.trading_day, command.action)
    return f"{natural}:retry:{dlq_seq}"


def _letter(msg: RawStreamMsg, retry: RetryView | None) -> DeadLetter:
    headers = msg.headers or {}
    data = msg.data or b""
    command: dict[str, Any] | None = None
    raw: str | None = None
    try:
        decoded = msgspec.json.decode(data)
        if isinstance(decoded, dict):
            command = decoded
        else:
            raw = data.decode(errors="replace")[:MAX_RAW_CHARS]
    except msgspec.DecodeError:
        raw = data.decode(errors="replace")[:MAX_RAW_CHARS]
    deliveries = headers.get(DELIVERIES_HEADER)
    return DeadLetter(
        seq=int(msg.seq or 0), subject=msg.subject or "",
        original_subject=headers.get(SUBJECT_HEADER), reason=headers.get(REASON_HEADER),
        deliveries=int(deliveries) if deliveries and deliveries.isdigit() else None,
        msg_id=headers.get(subjects.MSG_ID_HEADER), parked_at=msg.time, command=command,
        raw=raw, retry=retry)


class DeadLetterAdmin:
    """Reads and works the DLQ stream; every change is audited."""

    def __init__(self, js: JetStreamContext, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._js = js
        self._sessions = sessions

    async def page(self, *, limit: int, cursor: int | None) -> DeadLetterPage:
        """Parked messages from sequence `cursor` on (oldest first)."""
        found: list[RawStreamMsg] = []
        seq = cursor or 1
        more = False
        while True:
            try:
                msg = await self._js.get_msg(subjects.DLQ, seq=seq, subject=subjects.DLQ_ALL,
                                             next=True)
            except NotFoundError:
                break
            if len(found) == limit:
                more = True
                break
            found.append(msg)
            seq = int(msg.seq or seq) + 1
        async with self._sessions() as session:
            retries = await dlq_retries.of_messages(session, subjects.DLQ,
                                                    [int(m.seq or 0) for m in found])
        items = [_letter(m, retries.get(int(m.seq or 0))) for m in found]
        return DeadLetterPage(items, seq if more else None)

    async def get(self, seq: int) -> DeadLetter:
        """One parked message."""
        msg = await self._message(seq)
        async with self._sessions() as session:
            retries = await dlq_retries.of_messages(session, subjects.DLQ, [seq])
        return _letter(msg, retries.get(seq))

    async def retry(self, actor: Actor, seq: int) -> DeadLetter:
        """Publish the parked command again, once; the attempt is recorded and audited."""
        msg = await self._message(seq)
        try:
            command = _decode.decode(msg.data or b"")
            subject = subjects.order_command(command.user_id, command.strategy_id)
        except (msgspec.DecodeError, ValueError) as exc:
            raise Conflict("This dead letter is not a valid order command; discard it",
                           details={"seq": seq}) from exc
        msg_id = retry_msg_id(command, seq)
        headers = {subjects.MSG_ID_HEADER: msg_id, RETRY_OF_HEADER: str(seq)}
        trace_id = current_trace_id()
        if trace_id:
            headers[TRACE_HEADER] = trace_id
        try:
            async with self._sessions() as session, session.begin():
                # The row first: a concurrent retry of the same message waits on the unique
                # key here and fails once this one commits.
                row = await dlq_retries.add(session, stream=subjects.DLQ, dlq_seq=seq,
                                            subject=subject, msg_id=msg_id,
                                            actor_id=actor.user_id, trace_id=trace_id)
                ack = await self._js.publish(subject, msg.data or b"", headers=headers)
                row.command_seq = int(ack.seq)
                row.duplicate = bool(ack.duplicate)
                await audit.record(session, actor, "admin.dlq.retry", target_type="dlq_message",
                                   target_id=str(seq), details={
                                       "subject": subject, "msg_id": msg_id,
                                       "command_seq": int(ack.seq),
                                       "duplicate": bool(ack.duplicate),
                                       "action": command.action,
                                       "strategy_id": command.strategy_id,
                                       "trading_day": command.trading_day})
        except IntegrityError as exc:
            raise Conflict("This dead letter was already retried", details={"seq": seq}) from exc
        except (NatsError, TimeoutError) as exc:
            raise Unavailable("The command could not be published; nothing was recorded, "
                              "retry later", details={"seq": seq}) from exc
        return await self.get(seq)

    async def discard(self, actor: Actor, seq: int) -> None:
        """Delete a parked message; its content stays in the audit log."""
        letter = _letter(await self._message(seq), None)
        async with self._sessions() as session, session.begin():
            await audit.record(session, actor, "admin.dlq.discard", target_type="dlq_message",
                               target_id=str(seq), details={
                                   "subject": letter.original_subject, "reason": letter.reason,
                                   "msg_id": letter.msg_id, "command": letter.command,
                                   "raw": letter.raw})
            try:
                await self._js.delete_msg(subjects.DLQ, seq)
            except NotFoundError as exc:
                raise NotFound("Dead letter not found") from exc

    async def _message(self, seq: int) -> RawStreamMsg:
        if seq < 1:
            raise NotFound("Dead letter not found")
        with contextlib.suppress(NotFoundError):
            return await self._js.get_msg(subjects.DLQ, seq=seq)
        raise NotFound("Dead letter not found")
