"""Statements straight on the asyncpg connections of the engine's pool, for the order path.

The executor's few hot statements run once or twice per order. Through the ORM session
each costs about four times the CPU of the statement itself (unit of work, identity map,
the greenlet bridge); at a steady 100 orders a second that was most of the executor's
time. Here they borrow a pooled connection from the same engine (same settings, same
limit) and speak asyncpg directly, with SQL written in the repository modules.

asyncpg runs each statement in its own transaction unless `transaction()` is used. A
connection found closed, or still inside a transaction, when its block ends is closed and
invalidated, so the pool never hands it out again; an error itself propagates (the callers
treat it as any database failure). Unlike a disconnect seen by SQLAlchemy, one seen here
invalidates that connection only: after a PostgreSQL restart each dead pooled connection
fails one batch before it is replaced, and the executor retries those (redelivery, then
reconciliation by tag), never sending an order twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

log = logging.getLogger("algo.db")

DRIVER_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError,
                        asyncpg.InternalClientError, SQLAlchemyError, OSError, TimeoutError)
"""What a failing database raises on this path (checking a connection out goes through
SQLAlchemy's pool, the statements through asyncpg)."""


class DriverError(RuntimeError):
    """The driver cannot be had: no engine behind the session factory, or no asyncpg
    connection behind the pool's."""


class Driver:
    """Borrows asyncpg connections from an engine's pool."""

    def __init__(self, engine: AsyncEngine, *, slow_ms: int = 100) -> None:
        self._engine = engine
        self._slow_s = slow_ms / 1000

    @classmethod
    def of(cls, sessions: async_sessionmaker[AsyncSession]) -> Driver:
        """The driver of the engine a session factory is bound to."""
        bind = sessions.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise DriverError("the session factory is not bound to an AsyncEngine")
        return cls(bind)

    @asynccontextmanager
    async def connection(self, purpose: str) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for the block (each statement commits on its own)."""
        start = time.perf_counter()
        async with self._engine.connect() as pooled:
            raw = (await pooled.get_raw_connection()).driver_connection
            if raw is None:
                raise DriverError("the pool gave a connection without a driver connection")
            try:
                yield raw
            finally:
                if raw.is_closed() or raw.is_in_transaction():
                    # Dead, or left inside a transaction (a rollback cut short by a
                    # cancellation): it would hand its locks to the next borrower.
                    raw.terminate()
                    try:
                        await pooled.invalidate()
                    except Exception as exc:  # noqa: BLE001 — the block's own error matters
                        log.warning("could not invalidate a dead connection: %s", exc)
        elapsed = time.perf_counter() - start
        if elapsed >= self._slow_s:
            log.warning("slow statements", extra={"purpose": purpose,
                                                  "duration_ms": round(elapsed * 1000, 1)})

    @asynccontextmanager
    async def transaction(self, purpose: str) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection in a transaction, committed when the block ends and rolled
        back when it raises.

        Plain BEGIN / COMMIT / ROLLBACK, not asyncpg's Transaction: that one marks the
        connection as in a transaction before BEGIN is sent, and a BEGIN that fails or is
        cancelled would leave the mark behind — the next borrower's BEGIN would become a
        SAVEPOINT, its COMMIT a RELEASE. The server's own status (`is_in_transaction()`)
        is what `connection()` checks on the way back to the pool.
        """
        async with self.connection(purpose) as raw:
            await raw.execute("BEGIN")
            try:
                yield raw
            except asyncio.CancelledError:
                raise  # no more waiting: connection() closes it, the server rolls back
            except BaseException:
                if not raw.is_closed() and raw.is_in_transaction():
                    # A failed ROLLBACK leaves it in the transaction: connection() closes it.
                    with contextlib.suppress(*DRIVER_ERRORS):
                        await raw.execute("ROLLBACK")
                raise
            await raw.execute("COMMIT")
