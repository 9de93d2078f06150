"""`algo backup` / `algo restore` round trip (TASK-176): populate a system of its own, back it
up while it runs, wipe it (servers stopped, data directory deleted), restore, and find every
user, strategy, order, event, queued command and dead letter back, runtime state rebuilt."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.backup.manifest import Manifest, describe
from core.bootstrap import seed_reference_data
from core.clock import FakeClock
from core.crypto import SecretBox
from core.db import migrate
from core.db.engine import create_engine, session_factory
from core.db.enums import OrderAction, OrderStatus, Position
from core.db.models import BrokerCredential, Order, Strategy, User
from core.embedded.stack import EmbeddedStack
from core.ids import new_id
from core.nats import connect_nats
from core.redis import create_redis
from core.settings import Settings
from core.streams import ensure_streams
from tests.conftest import make_settings
from tests.order_kit import Kit, at


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update(ALGO_ENV=settings.env, ALGO_DATA_DIR=str(settings.data_dir),
               ALGO_JWT_SECRET=settings.jwt_secret.get_secret_value(),
               ALGO_ENCRYPTION_KEYS=settings.encryption_keys.get_secret_value(),
               ALGO_BCRYPT_ROUNDS="4", ALGO_NATS_PORT="0", ALGO_NATS_MONITOR_PORT="0",
               ALGO_REDIS_PORT="0", ALGO_LOG_LEVEL="WARNING")
    return env


async def _algo(settings: Settings, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [str(Path(sys.executable).parent / "algo"), *argv],
        env=_env(settings) | env,
        capture_output=True, text=True, timeout=240)


async def _stream(js: JetStreamContext, name: str) -> list[tuple[Any, ...]]:
    info = await js.stream_info(name)
    found: list[tuple[Any, ...]] = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(name, seq)
        found.append((msg.seq, msg.subject, msg.headers, msg.data))
    return found


async def _picture(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                   js: JetStreamContext, kit: Kit) -> dict[str, Any]:
    """Everything the round trip must bring back, as comparable values."""
    async with sessions() as session:
        users = [(u.id, u.email, u.role, u.password_hash) for u in
                 (await session.execute(select(User).order_by(User.id))).scalars()]
        strategies = [(s.id, s.user_id, s.status, s.position, s.rev) for s in
                      (await session.execute(select(Strategy).order_by(Strategy.id))).scalars()]
        orders = [(o.id, o.strategy_id, o.action, o.status, o.broker_order_id) for o in
                  (await session.execute(select(Order).order_by(Order.id))).scalars()]
        credential = (await session.execute(select(BrokerCredential))).scalar_one()
    runtime = {s[0]: await kit.strategies.runtime(s[1], s[0]) for s in strategies}
    secret = SecretBox(settings.encryption_key_map).open(
        credential.encrypted_api_key or b"", owner=credential.user_id)
    return {"users": users, "strategies": strategies, "orders": orders, "runtime": runtime,
            "secret": secret,
            "streams": {name: await _stream(js, name)
                        for name in (subjects.COMMANDS, subjects.EVENTS, subjects.DLQ)},
            "consumers": sorted((c.name, c.ack_floor and c.ack_floor.stream_seq)
                                for c in await js.consumers_info(subjects.EVENTS))}


class System:
    """A system of the test's own: servers in a data directory, and clients on them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stack = EmbeddedStack(settings)

    async def __aenter__(self) -> Kit:
        endpoints = self.stack.start()
        self.engine = create_engine(endpoints.database_url, pool_size=2)
        self.redis = create_redis(endpoints.redis_url)
        self.nc = await connect_nats(endpoints.nats_url, name="backup-test")
        settings = self.settings.model_copy(update={
            "nats_url": endpoints.nats_url, "database_url": endpoints.database_url,
            "redis_url": endpoints.redis_url})
        self.endpoints = endpoints
        return Kit(settings, session_factory(self.engine), self.redis, self.nc,
                   self.nc.jetstream(), FakeClock(at(9, 30)))

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()
        await self.redis.aclose()
        await self.engine.dispose()
        self.stack.stop()


async def _populate(kit: Kit) -> None:
    first = await kit.running_strategy("first@example.com")
    second = await kit.running_strategy("second@example.com", quantity=5)
    async with kit.executor():
        await kit.command(first, OrderAction.BUY)
        assert (await kit.settled(first.id, OrderAction.BUY)).status == OrderStatus.FILLED
    assert await kit.command(second, OrderAction.BUY)  # queued: no executor runs now
    await kit.js.publish(subjects.dlq("COMMANDS", "executor"), b'{"dead": 1}',
                         headers={subjects.DLQ_REASON_HEADER: "test"})
    async with kit.sessions() as session, session.begin():
        session.add(BrokerCredential(
            id=new_id("brk"), user_id=first.user_id, broker_type="zerodha", key_id="t1",
            encrypted_api_key=SecretBox(kit.settings.encryption_key_map).seal(
                "api-key", owner=first.user_id)))


async def test_backup_wipe_restore_round_trip(tmp_path: Path) -> None:
    settings = make_settings(None, tmp_path / "data")
    backup_dir = tmp_path / "backup"
    system = System(settings)
    async with system as kit:
        # A fresh system as `algo up` leaves it.
        await asyncio.to_thread(migrate.upgrade, system.endpoints.database_url)
        await seed_reference_data(system.endpoints.database_url)
        await ensure_streams(kit.js)
        await _populate(kit)
        before = await _picture(settings, kit.sessions, kit.js, kit)
        system.endpoints.write(settings.data_dir)  # as a running `algo up` would
        done = await _algo(settings, "backup", str(backup_dir))
        assert done.returncode == 0, done.stderr
        assert "key ids in use: t1" in done.stdout
    assert len(before["users"]) == 2 and len(before["orders"]) == 1
    assert before["runtime"][before["orders"][0][1]].position == Position.BOUGHT
    assert all(before["streams"].values()), "every stream holds something"

    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["key_ids_in_use"] == {"t1": 1}
    assert "api-key" not in (backup_dir / "manifest.json").read_text()
    shutil.rmtree(settings.data_dir)  # the machine is lost

    done = await _algo(settings, "restore", str(backup_dir))
    assert done.returncode == 0, done.stderr
    assert "runtime rebuilt: 2 running strategies" in done.stdout

    async with System(settings) as kit:
        after = await _picture(settings, kit.sessions, kit.js, kit)
        # The stream's de-duplication survives too: the queued command cannot be sent twice.
        second = before["strategies"][1]
        assert not await kit.command(await kit.strategy(second[0]), OrderAction.BUY)
    assert after == before

    refused = await _algo(settings, "restore", str(backup_dir))
    assert refused.returncode != 0
    assert "not empty" in refused.stderr


async def test_restore_needs_every_key_the_backup_used(tmp_path: Path) -> None:
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    (backup_dir / "postgres.dump").write_bytes(b"x")
    entry = describe(backup_dir / "postgres.dump")
    assert entry is not None
    Manifest(created_at="2026-11-24T00:00:00+00:00", schema_revision=None, postgres=entry,
             streams=[], key_ids_in_use={"old1": 3}).write(backup_dir)
    settings = make_settings(None, tmp_path / "data")
    refused = await _algo(settings, "restore", str(backup_dir))
    assert refused.returncode != 0
    assert "old1" in refused.stderr and "ALGO_ENCRYPTION_KEYS" in refused.stderr
    (backup_dir / "postgres.dump").write_bytes(b"y")
    refused = await _algo(settings, "restore", str(backup_dir))
    assert "differs from the manifest" in refused.stderr
