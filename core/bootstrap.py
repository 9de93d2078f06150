"""What `algo up`, `algo migrate` and `algo streams` do to a fresh or existing system."""

from __future__ import annotations

import csv
import logging
import secrets
from dataclasses import dataclass
from datetime import date

from core.calendar import Override
from core.connections.rotation import RotationReport, rotate_keys
from core.crypto import SecretBox
from core.db.engine import create_engine, session_factory
from core.db.enums import Role
from core.halts import restore_halts
from core.nats import connect_nats
from core.redis import create_redis
from core.repos import calendar as calendar_repo
from core.repos import instruments, users
from core.security.passwords import hash_password_async
from core.settings import Settings
from core.strategies.runtime import RuntimeStore, rebuild_runtime
from core.streams import StreamChange, StreamSpecOptions, ensure_streams

log = logging.getLogger("algo.bootstrap")


async def seed_reference_data(database_url: str) -> int:
    """Load the bundled instrument list (idempotent); returns how many instruments."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await instruments.seed_bundled(session)
    finally:
        await engine.dispose()


async def rebuild_runtime_state(database_url: str, redis_url: str) -> int:
    """Make Redis hold exactly the running strategies and the halts of PostgreSQL (after a
    Redis loss); returns the number of running strategies."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    redis = create_redis(redis_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            halts = await restore_halts(session, redis)
        if halts:
            log.warning("halts restored from PostgreSQL: %d engaged", halts)
        async with session_factory(engine)() as session:
            return await rebuild_runtime(session, RuntimeStore(redis))
    finally:
        await redis.aclose()
        await engine.dispose()


async def import_holidays(database_url: str, year: int, csv_text: str, source: str) -> int:
    """Import the exchange's published holiday list of `year` (CSV: date,name)."""
    holidays = []
    for row in csv.DictReader(csv_text.splitlines()):
        holidays.append(Override(date.fromisoformat(row["date"].strip()), "HOLIDAY",
                                 row["name"].strip()))
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session, session.begin():
            await calendar_repo.import_year(session, year, holidays, source=source)
    finally:
        await engine.dispose()
    return len(holidays)


def stream_options(settings: Settings) -> StreamSpecOptions:
    """Stream knobs taken from the settings."""
    return StreamSpecOptions(replicas=settings.stream_replicas,
                             ticks_max_bytes=settings.ticks_max_bytes)


async def create_streams(settings: Settings, nats_url: str) -> dict[str, StreamChange]:
    """Connect, run `ensure_streams()`, disconnect."""
    nc = await connect_nats(nats_url, name="bootstrap")
    try:
        return await ensure_streams(nc.jetstream(), stream_options(settings))
    finally:
        await nc.drain()


@dataclass(frozen=True)
class NewAccount:
    """An account just created, with the only copy of its password."""

    email: str
    password: str
    role: Role


async def create_account(settings: Settings, database_url: str, *, email: str, role: Role,
                         password: str | None = None) -> NewAccount:
    """Create a user (a random password when none is given); refuses a taken e-mail."""
    password = password or secrets.token_urlsafe(15)
    password_hash = await hash_password_async(password, settings.bcrypt_rounds)
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session, session.begin():
            if await users.get_user_by_email(session, email) is not None:
                raise ValueError(f"a user with e-mail {email} already exists")
            await users.create_user(session, email=email, password_hash=password_hash, role=role)
    finally:
        await engine.dispose()
    return NewAccount(users.normalize_email(email), password, role)


async def seed_admin(settings: Settings, database_url: str) -> NewAccount | None:
    """Create the first admin if there is no active admin; None if one exists."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session:
            if await users.count_active_admins(session) > 0:
                return None
            taken = await users.get_user_by_email(session, settings.admin_email) is not None
    finally:
        await engine.dispose()
    email = settings.admin_email if not taken else f"admin-{secrets.token_hex(3)}@algo.local"
    return await create_account(settings, database_url, email=email, role=Role.ADMIN)


async def rotate_encryption_keys(settings: Settings, database_url: str,
                                 batch_size: int = 200) -> RotationReport:
    """`algo keys rotate`: every broker secret re-encrypted under the primary key."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        return await rotate_keys(session_factory(engine), SecretBox(settings.encryption_key_map),
                                 batch_size=batch_size)
    finally:
        await engine.dispose()
