"""`algo up` end to end: embedded servers, ready within a minute, Ctrl-C leaves nothing,
and a second run reuses the data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from core.embedded.stack import Endpoints
from tests.stubs import eventually


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update({
        "ALGO_ENV": "dev",
        "ALGO_DATA_DIR": str(data_dir),
        "ALGO_WEB_PORT": "0",
        "ALGO_NATS_PORT": "0",
        "ALGO_NATS_MONITOR_PORT": "0",
        "ALGO_REDIS_PORT": "0",
    })
    return env


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def _run_once(data_dir: Path, log: Path, *, ctrl_c: bool = True,
                    external: Endpoints | None = None) -> str:
    """Start `algo up`, check readiness, stop it (Ctrl-C to the process group, or SIGTERM
    to `algo up` alone, as a service manager does), check that nothing is left."""
    env = _env(data_dir)
    if external is not None:
        env.update(ALGO_NATS_URL=external.nats_url, ALGO_DATABASE_URL=external.database_url,
                   ALGO_REDIS_URL=external.redis_url)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from core.cli import main; main()", "up"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    endpoints_file = data_dir / "endpoints.json"
    try:
        await eventually(endpoints_file.exists, timeout=90, message="endpoints.json")
        endpoints = json.loads(endpoints_file.read_text())
        if external is None:
            assert set(endpoints["started"]) == {"nats", "postgres", "redis"}
            assert endpoints["database_url"].startswith("postgresql+asyncpg://postgres@/algo?")
        else:
            assert endpoints["started"] == []
            assert endpoints["nats_url"] == external.nats_url
        async with httpx.AsyncClient(base_url=endpoints["web_url"]) as http:
            ready = await http.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["failing"] == []
            if external is None:
                monitor = await http.get(f"{endpoints['nats_monitor_url']}/jsz")
                assert monitor.json()["config"]["sync_always"] is True
        tree = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        names = [psutil.Process(pid).name() for pid in tree]
        if external is None:
            assert len(tree) >= 4  # web, pipeline, nats-server, redis-server
            postmaster = int((data_dir / "postgres" / "pgdata" / "postmaster.pid")
                             .read_text().splitlines()[0])
            tree.append(postmaster)
            assert _alive(postmaster)
        else:
            assert not any(n.startswith(("nats-server", "redis-server")) for n in names)
            assert len(tree) == 2  # web and pipeline only
    finally:
        if ctrl_c:
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        else:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
    for pid in tree:
        await eventually(lambda pid=pid: not _alive(pid), timeout=10,  # type: ignore[misc]
                         message=f"process {pid} gone")
    assert not endpoints_file.exists()
    return log.read_text()


async def test_up_serves_stops_cleanly_and_reuses_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "algo"
    first = await _run_once(data_dir, tmp_path / "first.log")
    assert "algo is up." in first and "password  " in first
    assert "algo stopped." in first

    second = await _run_once(data_dir, tmp_path / "second.log", ctrl_c=False)
    assert "algo is up." in second
    assert "password  " not in second, "the admin must be seeded only once"
    assert "Running upgrade" not in second, "the schema is already at head"


async def test_up_with_urls_set_starts_no_server(tmp_path: Path, endpoints: Endpoints) -> None:
    output = await _run_once(tmp_path / "algo", tmp_path / "up.log", external=endpoints)
    assert "embedded    none (external servers)" in output
