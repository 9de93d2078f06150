"""Data access for `dlq_retries`: one recorded retry per dead-lettered message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import DlqRetry


@dataclass(frozen=True, slots=True)
class RetryView:
    """A recorded retry."""

    dlq_seq: int
    subject: str
    msg_id: str
    command_seq: int | None
    duplicate: bool
    actor_id: str | None
    created_at: datetime


def _view(row: DlqRetry) -> RetryView:
    return RetryView(row.dlq_seq, row.subject, row.msg_id, row.command_seq, row.duplicate,
                     row.actor_id, row.created_at)


async def add(session: AsyncSession, *, stream: str, dlq_seq: int, subject: str, msg_id: str,
              actor_id: str | None, trace_id: str | None) -> DlqRetry:
    """Record a retry (flushed: a second one for the same message fails on the unique key,
    or waits for the first's transaction and then fails)."""
    row = DlqRetry(stream=stream, dlq_seq=dlq_seq, subject=subject, msg_id=msg_id,
                   duplicate=False, actor_id=actor_id, trace_id=trace_id)
    session.add(row)
    await session.flush()
    return row


async def of_messages(session: AsyncSession, stream: str,
                      seqs: Iterable[int]) -> dict[int, RetryView]:
    """The retries of these DLQ messages, by sequence."""
    wanted = list(seqs)
    if not wanted:
        return {}
    rows = await session.execute(select(DlqRetry).where(DlqRetry.stream == stream,
                                                        DlqRetry.dlq_seq.in_(wanted)))
    return {row.dlq_seq: _view(row) for row in rows.scalars()}
