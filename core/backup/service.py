"""Take and restore a backup of the whole system (see core/backup/__init__.py).

`algo backup` works while `algo up` runs (it reads `endpoints.json`) or while it is stopped
(it starts the embedded servers for the dump and stops them after). `algo restore` needs the
system stopped and an empty target (a fresh data directory, or `--force` to replace what is
there); it then rebuilds Redis's runtime state from the restored PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from nats.js.errors import NotFoundError
from sqlalchemy import text

from core import aio, subjects
from core.backup import jetstream, postgres
from core.backup.manifest import POSTGRES_FILE, BackupError, Manifest, StreamEntry, describe
from core.bootstrap import create_streams, rebuild_runtime_state
from core.db import migrate
from core.db.engine import create_engine, session_factory
from core.embedded.stack import EmbeddedStack
from core.nats import connect_nats
from core.repos import broker_credentials
from core.settings import Settings

STREAMS: Final = (subjects.COMMANDS, subjects.EVENTS, subjects.DLQ)
"""The file-backed streams; TICKS (memory, one day of prices) is not backed up."""


@dataclass(frozen=True)
class Servers:
    """The URLs a backup or restore works on."""

    nats_url: str
    database_url: str
    redis_url: str


@dataclass(frozen=True)
class RestoreReport:
    """What `restore` brought back."""

    manifest: Manifest
    stream_messages: dict[str, int]
    running_strategies: int


@contextmanager
def servers(settings: Settings, *, allow_running: bool) -> Iterator[Servers]:
    """External servers, a running `algo up`'s, or embedded ones started for the duration."""
    endpoints_file = settings.data_dir / "endpoints.json"
    if settings.embedded and endpoints_file.exists():
        if not allow_running:
            raise BackupError(f"{endpoints_file} says `algo up` is running: stop it first")
        running = json.loads(endpoints_file.read_text())
        yield Servers(settings.nats_url or running["nats_url"],
                      settings.database_url or running["database_url"],
                      settings.redis_url or running["redis_url"])
        return
    stack = EmbeddedStack(settings)
    endpoints = stack.start()
    try:
        yield Servers(endpoints.nats_url, endpoints.database_url, endpoints.redis_url)
    finally:
        stack.stop()


def backup(settings: Settings, directory: Path) -> Manifest:
    """Write a backup of the system into `directory` (created; must not hold one already)."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "manifest.json").exists():
        raise BackupError(f"{directory} already holds a backup")
    with servers(settings, allow_running=True) as target:
        postgres.dump(target.database_url, directory / POSTGRES_FILE)
        return aio.run(_finish_backup(target, directory))


async def _finish_backup(target: Servers, directory: Path) -> Manifest:
    streams: list[StreamEntry] = []
    nc = await connect_nats(target.nats_url, name="backup")
    try:
        for name in STREAMS:
            path = directory / f"{name}.snapshot"
            try:
                await nc.jetstream().stream_info(name)
            except NotFoundError:
                continue
            meta = await jetstream.snapshot_stream(nc, name, path)
            entry = describe(path)
            assert entry is not None
            streams.append(StreamEntry(name, entry, meta["config"] or {}, meta["state"] or {}))
    finally:
        await nc.close()
    revision, key_ids = await _database_facts(target.database_url)
    pg_entry = describe(directory / POSTGRES_FILE)
    assert pg_entry is not None
    manifest = Manifest(created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                        schema_revision=revision, postgres=pg_entry, streams=streams,
                        key_ids_in_use=key_ids)
    manifest.write(directory)
    return manifest


async def _database_facts(database_url: str) -> tuple[str | None, dict[str, int]]:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session:
            revision = (await session.execute(
                text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
            return revision, await broker_credentials.key_ids_in_use(session)
    finally:
        await engine.dispose()


def restore(settings: Settings, directory: Path, *, force: bool = False) -> RestoreReport:
    """Restore the backup in `directory` onto a stopped system, then rebuild runtime state."""
    manifest = Manifest.read(directory)
    manifest.verify(directory)
    missing = sorted(set(manifest.key_ids_in_use) - set(settings.encryption_key_map))
    if missing:
        raise BackupError(f"broker secrets in this backup are sealed with key id(s) "
                          f"{', '.join(missing)}: add them to ALGO_ENCRYPTION_KEYS first")
    with servers(settings, allow_running=False) as target:
        if not force:
            occupied = aio.run(_occupied(target))
            if occupied:
                raise BackupError(f"the target is not empty ({occupied}): restore into a fresh "
                                  "data directory, or pass --force to replace it")
        postgres.restore(target.database_url, directory / POSTGRES_FILE, clean=True)
        migrate.upgrade(target.database_url)  # a backup of an older release moves forward
        counts = aio.run(_restore_streams(settings, target, directory, manifest))
        aio.run(create_streams(settings, target.nats_url))  # TICKS, and any drift fixed
        running = aio.run(rebuild_runtime_state(target.database_url, target.redis_url))
    return RestoreReport(manifest, counts, running)


async def _occupied(target: Servers) -> str | None:
    engine = create_engine(target.database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            exists = (await conn.execute(text("SELECT to_regclass('users')"))).scalar()
            users = (await conn.execute(text("SELECT count(*) FROM users"))).scalar() if exists \
                else 0
    finally:
        await engine.dispose()
    if users:
        return f"{users} users in PostgreSQL"
    nc = await connect_nats(target.nats_url, name="restore-check")
    try:
        for name in STREAMS:
            try:
                info = await nc.jetstream().stream_info(name)
            except NotFoundError:
                continue
            if info.state.messages:
                return f"{info.state.messages} messages in stream {name}"
    finally:
        await nc.close()
    return None


async def _restore_streams(settings: Settings, target: Servers, directory: Path,
                           manifest: Manifest) -> dict[str, int]:
    counts: dict[str, int] = {}
    nc = await connect_nats(target.nats_url, name="restore")
    js = nc.jetstream()
    try:
        for entry in manifest.streams:
            with contextlib.suppress(NotFoundError):  # empty (checked) or replaced (--force)
                await js.delete_stream(entry.name)
            config: dict[str, Any] = dict(entry.config, num_replicas=settings.stream_replicas)
            state = await jetstream.restore_stream(nc, entry.name, directory / entry.file.name,
                                                   config, entry.state)
            counts[entry.name] = int(state.get("messages", 0))
    finally:
        await nc.close()
    return counts
