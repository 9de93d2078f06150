"""The async engine and session factory: one per process, opened in a lifespan hook."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.db.tls import split_tls

log = logging.getLogger("algo.db")


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10,
                  slow_query_ms: int = 100, pre_ping: bool = True) -> AsyncEngine:
    """A pooled asyncpg engine that logs statements slower than `slow_query_ms` (OPS-3).

    libpq TLS options in the URL (`sslmode=verify-full&sslrootcert=…`) are honoured
    (core/db/tls.py)."""
    clean_url, tls = split_tls(url)
    connect_args: dict[str, Any] = {"timeout": 5, "command_timeout": 30}
    if tls is not None:
        connect_args["ssl"] = tls
    engine = create_async_engine(
        clean_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # The ping saves the first query after a PostgreSQL restart from failing on a dead
        # pooled connection, at two extra round trips per checkout. The pipeline and the web
        # process turn it off: a pipeline query that fails is retried (redelivered); a web
        # request fails once (500), and the disconnect invalidates the whole pool, so the
        # next requests get fresh connections. Short-lived tools keep it.
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    _log_slow_queries(engine, slow_query_ms / 1000)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (STYLE rule 2)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose statements run outside a transaction, on the same pool: for a
    request's reads, where BEGIN and ROLLBACK would be two round trips of three. Each
    statement sees its own snapshot; use `session_factory` where two reads must agree."""
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"),
                              expire_on_commit=False)


async def autocommit(session: AsyncSession) -> None:
    """Run the session's statements outside a transaction, each committed on its own.

    For a hot path's single reads and single-statement writes, where BEGIN and COMMIT
    would triple the round trips. Call it before the session's first statement.
    """
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _log_slow_queries(engine: AsyncEngine, threshold_s: float) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _start(conn: Connection, cursor: Any, statement: str, parameters: Any,
               context: ExecutionContext | None, executemany: bool) -> None:
        # A connection runs one statement at a time, so one slot is enough.
        conn.info["query_start"] = time.perf_counter()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _end(conn: Connection, cursor: Any, statement: str, parameters: Any,
             context: ExecutionContext | None, executemany: bool) -> None:
        started = conn.info.pop("query_start", None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        if elapsed >= threshold_s:
            log.warning("slow query", extra={"duration_ms": round(elapsed * 1000, 1),
                                             "statement": statement[:500]})
