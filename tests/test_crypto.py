"""Broker secrets at rest (BRK-7): AES-256-GCM round trip, tampering, owner binding, and
`algo keys rotate` against the real database while the secrets stay readable."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.connectors import build_connectors
from core.cli import main as algo
from core.clock import FakeClock
from core.connections import vault
from core.connections.health import HealthStore
from core.connections.probe import Prober
from core.connections.rotation import rotate_keys
from core.crypto import NONCE_BYTES, SecretBox, SecretUnreadable
from core.db.enums import BrokerType
from core.db.models import AuditLog, BrokerCredential
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.repos import users
from tests.conftest import make_settings


def key() -> bytes:
    """A random AES-256 key."""
    return os.urandom(32)


def test_round_trip_with_a_random_nonce_and_the_key_id_in_front() -> None:
    box = SecretBox({"k1": key()})
    first = box.seal("api-secret-value", owner="usr_a")
    second = box.seal("api-secret-value", owner="usr_a")
    assert first != second  # a fresh 96-bit nonce each time
    assert first.startswith(b"k1:") and b"api-secret-value" not in first
    assert len(first) == len(b"k1:") + NONCE_BYTES + len("api-secret-value") + 16  # + GCM tag
    assert box.open(first, owner="usr_a") == box.open(second, owner="usr_a") == "api-secret-value"


@pytest.mark.parametrize("position", [3, 3 + NONCE_BYTES, -1])
def test_any_tampered_byte_is_refused(position: int) -> None:
    box = SecretBox({"k1": key()})
    sealed = bytearray(box.seal("token", owner="usr_a"))
    sealed[position] ^= 0x01  # in the nonce, the ciphertext, the tag
    with pytest.raises(SecretUnreadable):
        box.open(bytes(sealed), owner="usr_a")


def test_a_ciphertext_moved_to_another_user_does_not_open() -> None:
    box = SecretBox({"k1": key()})
    sealed = box.seal("token", owner="usr_a")
    with pytest.raises(SecretUnreadable):
        box.open(sealed, owner="usr_b")
    with pytest.raises(SecretUnreadable):
        box.open(b"nokey:" + sealed[3:], owner="usr_a")  # unknown key id
    with pytest.raises(SecretUnreadable):
        box.open(b"k1:short", owner="usr_a")


def test_reseal_moves_a_value_to_the_primary_key_and_is_idempotent() -> None:
    k1 = key()
    old = SecretBox({"k1": k1}).seal("token", owner="usr_a")
    box = SecretBox({"k2": key(), "k1": k1})
    assert box.key_ids == ["k2", "k1"] and not box.is_current(old)
    fresh = box.reseal(old, owner="usr_a")
    assert SecretBox.key_id_of(fresh) == "k2" and box.is_current(fresh)
    assert box.reseal(fresh, owner="usr_a") == fresh
    assert box.open(fresh, owner="usr_a") == "token"
    with pytest.raises(SecretUnreadable):
        box.reseal(old, owner="usr_b")


async def _connection(sessions: async_sessionmaker[AsyncSession], box: SecretBox, email: str,
                      secrets: dict[str, str], token: str) -> str:
    async with sessions() as session, session.begin():
        user = await users.create_user(session, email=email, password_hash="x")
        row = BrokerCredential(id=new_id("brk"), user_id=user.id,
                               broker_type=BrokerType.ZERODHA.value, is_valid=True)
        vault.seal(box, row, secrets, token)
        session.add(row)
    return row.id


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[BrokerCredential]:
    async with sessions() as session:
        return list((await session.execute(select(BrokerCredential)
                                           .order_by(BrokerCredential.id))).scalars())


SECRETS = {"api_key": "kite-key", "api_secret": "kite-secret", "pin": "123456"}


async def test_rotation_keeps_old_secrets_readable_and_re_encrypts_them(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    k1, k2 = key(), key()
    old = SecretBox({"k1": k1})
    ids = [await _connection(sessions, old, f"u{i}@example.com", SECRETS, f"token-{i}")
           for i in range(5)]
    rotated = SecretBox({"k2": k2, "k1": k1})  # k2 is primary now, k1 still configured

    # Before the rotation every secret still opens, under the old key.
    for row in await _rows(sessions):
        assert row.key_id == "k1"
        assert vault.open_secrets(rotated, row) == SECRETS

    report = await rotate_keys(sessions, rotated, batch_size=2)
    assert (report.primary, report.scanned, report.rotated) == ("k2", 5, 5)
    assert report.unreadable == [] and not report.remaining
    only_new = SecretBox({"k2": k2})  # k1 can now be retired
    for i, row in enumerate(await _rows(sessions)):
        assert row.id == ids[i] and row.key_id == "k2"
        for column in vault.SEALED_COLUMNS:
            blob = getattr(row, column)
            assert blob is not None and blob.startswith(b"k2:")
        assert vault.open_secrets(only_new, row) == SECRETS
        assert vault.open_token(only_new, row) == f"token-{i}"

    again = await rotate_keys(sessions, rotated)
    assert (again.scanned, again.rotated) == (5, 0)  # idempotent


async def test_rotation_reports_what_no_key_opens_and_leaves_it(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    lost = SecretBox({"k0": key()})
    k1 = key()
    readable = await _connection(sessions, SecretBox({"k1": k1}), "a@example.com", SECRETS, "t")
    orphan = await _connection(sessions, lost, "b@example.com", SECRETS, "t")
    report = await rotate_keys(sessions, SecretBox({"k2": key(), "k1": k1}))
    assert report.unreadable == [orphan]
    assert report.remaining == {"k0": 4}
    rows = {row.id: row for row in await _rows(sessions)}
    assert rows[readable].key_id == "k2" and rows[orphan].key_id == "k0"


async def test_rotation_while_connections_are_read_and_written(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    k1, k2 = key(), key()
    for i in range(30):
        await _connection(sessions, SecretBox({"k1": k1}), f"c{i}@example.com", SECRETS, "t")
    box = SecretBox({"k2": k2, "k1": k1})
    stop = asyncio.Event()

    async def reader() -> int:
        reads = 0
        while not stop.is_set():
            for row in await _rows(sessions):
                assert vault.open_secrets(box, row) == SECRETS  # never unreadable mid-way
                reads += 1
            await asyncio.sleep(0)
        return reads

    task = asyncio.create_task(reader())
    report = await rotate_keys(sessions, box, batch_size=4)
    stop.set()
    assert await task > 0
    assert report.rotated == 30
    assert {row.key_id for row in await _rows(sessions)} == {"k2"}


def test_the_cli_rotates(endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         sessions: async_sessionmaker[AsyncSession],
                         capsys: pytest.CaptureFixture[str]) -> None:
    k1, k2 = key(), key()
    asyncio.run(_seed(endpoints, k1))
    b64 = base64.b64encode
    monkeypatch.setenv("ALGO_ENV", "test")
    monkeypatch.setenv("ALGO_JWT_SECRET", "x" * 48)
    monkeypatch.setenv("ALGO_DATABASE_URL", endpoints.database_url)
    monkeypatch.setenv("ALGO_ENCRYPTION_KEYS", f"k2:{b64(k2).decode()},k1:{b64(k1).decode()}")
    monkeypatch.setenv("ALGO_LOG_JSON", "false")
    with pytest.raises(SystemExit) as exited:
        algo(["keys", "rotate", "--batch-size", "10"])
    assert exited.value.code == 0
    assert "primary key k2: 1 connections scanned, 1 re-encrypted" in capsys.readouterr().out


async def _seed(endpoints: Endpoints, k1: bytes) -> None:
    from core.db.engine import create_engine, session_factory
    engine = create_engine(endpoints.database_url, pool_size=1)
    try:
        await _connection(session_factory(engine), SecretBox({"k1": k1}), "cli@example.com",
                          SECRETS, "t")
    finally:
        await engine.dispose()


async def test_a_probe_missing_a_key_marks_nothing_but_a_value_that_fails_to_open_does(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    """Mid-rotation, a process restarted without the new key (k2) must not mark the
    connections sealed with it invalid: that is its own configuration, alerted once. A
    value its key does not open (InvalidTag: tampered, moved) is the row's fault."""
    k1, k2 = key(), key()
    under_new = await _connection(sessions, SecretBox({"k2": k2}), "n@example.com", SECRETS,
                                  "t")
    forged = await _connection(sessions, SecretBox({"k1": key()}), "f@example.com", SECRETS,
                               "t")  # k1 by id, other key material
    clock = FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    prober = Prober(sessions, SecretBox({"k1": k1}),
                    build_connectors(make_settings(endpoints, tmp_path), clock),
                    HealthStore(redis), clock)
    for _ in range(2):
        found = await prober.probe(await _rows(sessions))
    rows = {row.id: row for row in await _rows(sessions)}
    assert (rows[under_new].is_valid, rows[under_new].status_reason) == (True, None)
    assert "k2" in (found[under_new].reason or "")
    assert (rows[forged].is_valid, rows[forged].status_reason) == (False, "unreadable")
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "k2" in critical[0].getMessage()


async def test_a_rotation_run_is_audited(sessions: async_sessionmaker[AsyncSession]) -> None:
    k1 = key()
    await _connection(sessions, SecretBox({"k1": k1}), "a@example.com", SECRETS, "t")
    orphan = await _connection(sessions, SecretBox({"k0": key()}), "b@example.com", SECRETS,
                               "t")
    report = await rotate_keys(sessions, SecretBox({"k2": key(), "k1": k1}))
    assert report.missing_keys == {"k0"}
    async with sessions() as session:
        [entry] = (await session.execute(select(AuditLog).where(
            AuditLog.action == "keys.rotate"))).scalars().all()
    assert (entry.target_id, entry.actor_role) == ("k2", "system")
    assert entry.details["scanned"] == 2 and entry.details["rotated"] == 1
    assert entry.details["unreadable"] == [orphan]
    assert entry.details["missing_keys"] == ["k0"]
