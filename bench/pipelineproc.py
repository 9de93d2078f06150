"""Start pipeline roles as their own processes for a benchmark, against servers it started."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from core.embedded.stack import Endpoints


def pipeline_env(endpoints: Endpoints, data_dir: str, **settings: str) -> dict[str, str]:
    """This environment without any ALGO_* of the caller's, plus the servers and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update(ALGO_DATA_DIR=data_dir, ALGO_NATS_URL=endpoints.nats_url,
               ALGO_DATABASE_URL=endpoints.database_url, ALGO_REDIS_URL=endpoints.redis_url,
               **settings)
    return env


def start_roles(roles: Sequence[str], env: dict[str, str],
                log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m pipeline ROLE…` in one process, its output appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "pipeline", *roles], env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


def stop_all(procs: Iterable[subprocess.Popen[bytes]], timeout_s: float = 30.0) -> None:
    """SIGTERM every process at once, wait for each, SIGKILL those that outlive `timeout_s`."""
    alive = [proc for proc in procs if proc.poll() is None]
    for proc in alive:
        proc.terminate()
    for proc in alive:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
