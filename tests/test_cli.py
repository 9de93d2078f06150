"""The `algo` command's own sub-commands against the session's servers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.embedded.process import pick_port, port_is_free
from core.embedded.stack import Endpoints
from core.repos import calendar as calendar_repo
from core.repos import users
from core.security.passwords import verify_password


def _algo(args: list[str], endpoints: Endpoints, stdin: str | None = None,
          ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update(ALGO_ENV="dev", ALGO_NATS_URL=endpoints.nats_url,
               ALGO_DATABASE_URL=endpoints.database_url, ALGO_REDIS_URL=endpoints.redis_url,
               ALGO_LOG_JSON="false")
    return subprocess.run([sys.executable, "-c", "from core.cli import main; main()", *args],
                          env=env, input=stdin, capture_output=True, text=True, timeout=60,
                          check=False)


async def test_create_user_stores_only_a_hash(
        endpoints: Endpoints, sessions: async_sessionmaker[AsyncSession]) -> None:
    result = _algo(["admin", "create-user", "--email", "Ops@Example.COM", "--role", "broker",
                    "--password-stdin"], endpoints, stdin="correct horse battery\n")
    assert result.returncode == 0, result.stderr
    assert "created broker ops@example.com" in result.stdout
    async with sessions() as session:
        user = await users.get_user_by_email(session, "OPS@example.com")
    assert user is not None
    assert user.role == "broker"
    assert "correct horse" not in user.password_hash
    assert verify_password("correct horse battery", user.password_hash)

    again = _algo(["admin", "create-user", "--email", "ops@example.com", "--password-stdin"],
                  endpoints, stdin="another one\n")
    assert again.returncode != 0
    assert "already exists" in again.stderr


async def test_generated_password_is_printed_once(endpoints: Endpoints) -> None:
    result = _algo(["admin", "create-user", "--email", "new@example.com"], endpoints)
    assert result.returncode == 0, result.stderr
    assert "password (shown once): " in result.stdout


async def test_migrate_and_streams_are_idempotent(endpoints: Endpoints) -> None:
    migrated = _algo(["migrate"], endpoints)
    assert migrated.returncode == 0, migrated.stderr
    streams = _algo(["streams"], endpoints)
    assert streams.returncode == 0, streams.stderr
    assert "COMMANDS: unchanged" in streams.stdout


async def test_unknown_role_is_refused(endpoints: Endpoints) -> None:
    result = _algo(["pipeline", "feed", "bogus"], endpoints)
    assert result.returncode != 0
    assert "bogus" in result.stderr


def test_a_taken_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not port_is_free(port)
        chosen = pick_port(port)
        assert chosen != port
        assert port_is_free(chosen)


async def test_heartbeat_check_reads_fresh_beats(endpoints: Endpoints, redis: Redis) -> None:
    assert _algo(["heartbeat-check", "executor"], endpoints).returncode == 1
    await redis.set("heartbeat:executor:host-1", json.dumps({"ts": time.time()}), ex=5)
    assert _algo(["heartbeat-check", "executor"], endpoints).returncode == 0
    await redis.set("heartbeat:executor:host-1", json.dumps({"ts": time.time() - 60}), ex=5)
    assert _algo(["heartbeat-check", "executor"], endpoints).returncode == 1


async def test_calendar_import_covers_the_year(
        endpoints: Endpoints, tmp_path: Path,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    csv_file = tmp_path / "nse-2027.csv"
    csv_file.write_text("date,name\n2027-01-26,Republic Day\n2027-03-22,Holi\n")
    result = _algo(["calendar", "import", "--year", "2027", str(csv_file)], endpoints)
    assert result.returncode == 0, result.stderr
    assert "2 holidays imported" in result.stdout
    async with sessions() as session:
        cal = await calendar_repo.load_calendar(session)
    assert cal.covers(date(2027, 7, 1))
    assert not cal.is_trading_day(date(2027, 3, 22))
    bad = tmp_path / "bad.csv"
    bad.write_text("date,name\n2026-01-26,wrong year\n")
    refused = _algo(["calendar", "import", "--year", "2027", str(bad)], endpoints)
    assert refused.returncode != 0
    assert "not a holiday of 2027" in refused.stderr


async def test_runtime_rebuild_command(endpoints: Endpoints, redis: Redis) -> None:
    await redis.sadd("strategies:running", "usr_x:str_stray")
    await redis.set("user:usr_x:strategy:str_stray", '{"rev": 1}')
    result = _algo(["runtime", "rebuild"], endpoints)
    assert result.returncode == 0, result.stderr
    assert "runtime rebuilt: 0 running strategies" in result.stdout
    assert await redis.get("user:usr_x:strategy:str_stray") is None
