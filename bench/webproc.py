"""Start the web process for a benchmark against servers the benchmark started."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from core.embedded.process import wait_until
from core.embedded.stack import Endpoints

NO_LIMITS = {f"ALGO_RATELIMIT_{name}": "100000000/1"
             for name in ("IP", "USER", "AUTH_IP", "LOGIN_IP", "LOGIN_ACCOUNT")}
"""Benchmarks measure the system, not the rate limiter's refusals."""


def start_web(endpoints: Endpoints, data_dir: str, port: int,
              **settings: str) -> subprocess.Popen[bytes]:
    """`python -m web` on `port` with the given ALGO_* settings, once it answers ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update(ALGO_ENV="dev", ALGO_DATA_DIR=data_dir, ALGO_WEB_PORT=str(port),
               ALGO_NATS_URL=endpoints.nats_url, ALGO_DATABASE_URL=endpoints.database_url,
               ALGO_REDIS_URL=endpoints.redis_url, **NO_LIMITS, **settings)
    web = subprocess.Popen([sys.executable, "-m", "web"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready() -> bool:
        try:
            url = f"http://127.0.0.1:{port}/health/ready"
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, what="web", timeout_s=60, proc=web)
    return web


def stop_web(web: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM and wait."""
    if web is not None:
        web.terminate()
        web.wait(30)
