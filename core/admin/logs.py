"""The admin's logs (ADM-4, ADM-5): order attempts, stored errors and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import AuditLog, OrderLog
from core.repos import audit, error_logs, order_logs
from core.repos.audit import AuditFilter
from core.repos.error_logs import ErrorLogFilter, ErrorLogView
from core.repos.order_logs import OrderLogFilter

T = TypeVar("T")
C = TypeVar("C", int, str)


@dataclass(frozen=True, slots=True)
class LogPage(Generic[T, C]):
    """Newest first; pass `next_cursor` as `cursor` for the next page."""

    items: Sequence[T]
    next_cursor: C | None


def _paged(rows: Sequence[T], limit: int, last: C | None) -> LogPage[T, C]:
    return LogPage(rows[:limit], last if len(rows) > limit else None)


class AdminLogs:
    """Read-only views over the three logs."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def orders(self, flt: OrderLogFilter, *, limit: int,
                     cursor: int | None) -> LogPage[OrderLog, int]:
        """Broker interactions of every order."""
        async with self._sessions() as session:
            rows = await order_logs.page(session, flt, limit=limit + 1, before_id=cursor)
        return _paged(rows, limit, rows[limit - 1].id if len(rows) > limit else None)

    async def errors(self, flt: ErrorLogFilter, *, limit: int,
                     cursor: int | None) -> LogPage[ErrorLogView, int]:
        """Stored ERROR and CRITICAL records."""
        async with self._sessions() as session:
            rows = await error_logs.page(session, flt, limit=limit + 1, before_id=cursor)
        return _paged(rows, limit, rows[limit - 1].id if len(rows) > limit else None)

    async def audit(self, flt: AuditFilter, *, limit: int,
                    cursor: str | None) -> LogPage[AuditLog, str]:
        """Admin and security actions."""
        async with self._sessions() as session:
            rows = await audit.page(session, flt, limit=limit + 1, before_id=cursor)
        return _paged(rows, limit, rows[limit - 1].id if len(rows) > limit else None)
