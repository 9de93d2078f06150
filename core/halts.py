"""The kill switch (RUN-8): a global halt and per-user halts.

PostgreSQL (`halts`) is the durable record; Redis (`halt:global`, `halt:user:{id}`, value =
the reason) is the live copy the executor reads before every broker call. Every change
runs under one advisory lock, so engage, release and `restore_halts` never interleave.

Failure order: whatever fails, Redis is left as halted as PostgreSQL or more, never less.
Engage writes the row, sets the key, then commits (a failed commit leaves an extra halt in
Redis, which a release or `restore_halts` clears). Release deletes the row, deletes the key,
then commits, and puts the key back if the commit fails.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from redis.asyncio import Redis
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys
from core.db.models import Halt
from core.errors import NotFound
from core.repos import audit, users
from core.repos.audit import Actor

log = logging.getLogger("algo.halts")

GLOBAL: Final = "global"
"""The scope of the platform-wide halt; any other scope is a user id."""

MAX_REASON_CHARS: Final = 256


@dataclass(frozen=True, slots=True)
class HaltRecord:
    """One engaged halt."""

    scope: str
    reason: str
    set_by: str | None
    """The admin who engaged it, None when the system tripped it (max daily loss)."""
    created_at: datetime


def halt_key(scope: str) -> str:
    """The Redis key of a scope."""
    return redis_keys.HALT_GLOBAL if scope == GLOBAL else redis_keys.halt_user(scope)


# Repository functions: the SQL of `halts`.

async def lock_halts(session: AsyncSession) -> None:
    """Serialise every change to halts (held until the transaction ends)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('algo.halts'))"))


async def get_halt(session: AsyncSession, scope: str) -> HaltRecord | None:
    """The halt of one scope, if engaged."""
    row = await session.get(Halt, scope, populate_existing=True)
    return _record(row) if row is not None else None


async def list_halts(session: AsyncSession) -> list[HaltRecord]:
    """Every engaged halt, oldest first."""
    rows = await session.execute(select(Halt).order_by(Halt.created_at, Halt.scope))
    return [_record(row) for row in rows.scalars()]


async def upsert_halt(session: AsyncSession, scope: str, reason: str,
                      set_by: str | None) -> HaltRecord:
    """Engage (or re-engage with a new reason) one scope."""
    values = {"scope": scope, "reason": reason[:MAX_REASON_CHARS], "set_by": set_by}
    stmt = insert(Halt).values(**values)
    upsert = stmt.on_conflict_do_update(
        index_elements=[Halt.scope],
        set_={"reason": stmt.excluded.reason, "set_by": stmt.excluded.set_by,
              "created_at": text("now()")},
    ).returning(Halt.scope, Halt.reason, Halt.set_by, Halt.created_at)
    row = (await session.execute(upsert)).one()
    return HaltRecord(*row)


async def delete_halt(session: AsyncSession, scope: str) -> HaltRecord | None:
    """Remove one scope's halt; returns what was engaged."""
    row = (await session.execute(
        delete(Halt).where(Halt.scope == scope)
        .returning(Halt.scope, Halt.reason, Halt.set_by, Halt.created_at))).first()
    return HaltRecord(*row) if row is not None else None


def _record(row: Halt) -> HaltRecord:
    return HaltRecord(row.scope, row.reason, row.set_by, row.created_at)


async def restore_halts(session: AsyncSession, redis: Redis) -> int:
    """Make Redis hold exactly the halts of PostgreSQL (after a Redis loss); returns the count.

    Runs in the caller's transaction, holding the halts lock until it ends.
    """
    await lock_halts(session)
    wanted = {halt_key(h.scope): h.reason for h in await list_halts(session)}
    present = {str(key) async for key in redis.scan_iter(match=redis_keys.halt_user("*"))}
    present.add(redis_keys.HALT_GLOBAL)
    # One MULTI: the executor never sees a half-restored set.
    async with redis.pipeline(transaction=True) as pipe:
        stale = present - set(wanted)
        if stale:
            pipe.delete(*stale)
        for key, reason in wanted.items():
            pipe.set(key, reason)
        pipe.set(redis_keys.HALTS_RESTORED, "1")
        await pipe.execute()
    return len(wanted)


class HaltStore:
    """Engage, release and read the kill switch."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
        self._sessions = sessions
        self._redis = redis
        self._restoring = asyncio.Lock()

    async def reason(self, user_id: str) -> str | None:
        """Why trading is halted for `user_id` (the global halt first), None if it is not.

        One Redis round trip. Redis errors propagate (`redis.exceptions.RedisError`): an
        unanswered question means "halted" to the executor, which must not send (fail closed).
        A Redis that lost its data (no `halts:restored` marker) would read as "no halt": the
        halts are restored from PostgreSQL first, so a Redis restart never lifts one.
        """
        global_reason, user_reason, restored = await self._redis.mget(
            redis_keys.HALT_GLOBAL, redis_keys.halt_user(user_id), redis_keys.HALTS_RESTORED)
        if restored is None:
            async with self._restoring:
                async with self._sessions() as session, session.begin():
                    count = await restore_halts(session, self._redis)
                # A fresh Redis with nothing to restore is routine; a halt brought back is not.
                log.log(logging.WARNING if count else logging.INFO,
                        "halts restored into Redis from PostgreSQL: %d engaged", count)
            return await self.reason(user_id)
        for value in (global_reason, user_reason):
            if value is not None:
                # An empty value is still a halt: the key's presence is what counts.
                return str(value) or "halted"
        return None

    async def active(self) -> list[HaltRecord]:
        """Every engaged halt, from PostgreSQL (the record), oldest first."""
        async with self._sessions() as session:
            return await list_halts(session)

    async def engage(self, scope: str, reason: str, *, set_by: str | None,
                     actor: Actor | None = None) -> HaltRecord:
        """Engage `scope` ("global" or a user id), replacing the reason of an engaged halt;
        audited as `halt.engage` when `actor` is given. Raises NotFound for an unknown user."""
        halt, _ = await self._engage(scope, reason, set_by=set_by, actor=actor, replace=True)
        return halt

    async def engage_unless_engaged(self, scope: str, reason: str, *, set_by: str | None,
                                    actor: Actor | None = None) -> HaltRecord | None:
        """Like `engage`, but an engaged halt keeps its reason and None is returned."""
        halt, engaged = await self._engage(scope, reason, set_by=set_by, actor=actor,
                                           replace=False)
        return halt if engaged else None

    async def _engage(self, scope: str, reason: str, *, set_by: str | None,
                      actor: Actor | None, replace: bool) -> tuple[HaltRecord, bool]:
        key = halt_key(scope)
        async with self._sessions() as session, session.begin():
            await lock_halts(session)
            if scope != GLOBAL and await users.get_user(session, scope) is None:
                raise NotFound("User not found")
            previous = await get_halt(session, scope)
            if previous is not None and not replace:
                # Heal a Redis copy lost since the halt was engaged.
                await self._redis.set(key, previous.reason)
                return previous, False
            halt = await upsert_halt(session, scope, reason, set_by)
            if actor is not None:
                await audit.record(session, actor, "halt.engage", target_type="halt",
                                   target_id=scope, details={
                                       "reason": halt.reason,
                                       "previous": previous.reason if previous else None})
            # Before the commit: if Redis refuses, nothing is recorded and the caller knows.
            await self._redis.set(key, halt.reason)
        return halt, True

    async def release(self, scope: str, *, actor: Actor | None = None) -> bool:
        """Lift `scope`'s halt; audited as `halt.release` when `actor` is given. False if
        neither PostgreSQL nor Redis had it engaged."""
        key = halt_key(scope)
        put_back: str | None = None
        async with self._sessions() as session:
            try:
                async with session.begin():
                    await lock_halts(session)
                    halt = await delete_halt(session, scope)
                    live = await self._redis.get(key)
                    if halt is None and live is None:
                        return False
                    if actor is not None:
                        await audit.record(session, actor, "halt.release", target_type="halt",
                                           target_id=scope, details={
                                               "reason": halt.reason if halt else live})
                    put_back = halt.reason if halt is not None else str(live)
                    await self._redis.delete(key)
            except BaseException:
                if put_back is not None:
                    await self._put_back(key, put_back)
                raise
        return True

    async def _put_back(self, key: str, reason: str) -> None:
        # The commit failed after the key went: halted in PostgreSQL, so halted in Redis.
        try:
            await self._redis.set(key, reason)
        except Exception:
            log.exception("halt %s may be lifted in Redis only: run `algo runtime rebuild`",
                          key)
