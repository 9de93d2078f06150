"""`algo web` with several worker processes serves on one port and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import psutil

from core.embedded.process import pick_port
from core.embedded.stack import Endpoints
from tests.stubs import eventually


async def test_two_workers_serve_and_stop(endpoints: Endpoints) -> None:
    port = pick_port(0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update(ALGO_ENV="dev", ALGO_NATS_URL=endpoints.nats_url,
               ALGO_DATABASE_URL=endpoints.database_url, ALGO_REDIS_URL=endpoints.redis_url,
               ALGO_WEB_PORT=str(port), ALGO_WEB_WORKERS="2", ALGO_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "web"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/health/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=60, message="two workers ready")
            workers = psutil.Process(proc.pid).children()
            assert len(workers) == 2
            for _ in range(20):
                assert (await http.get("/health/live")).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    for worker in workers:
        await eventually(lambda w=worker: not w.is_running() or  # type: ignore[misc]
                         w.status() == psutil.STATUS_ZOMBIE, timeout=10)
