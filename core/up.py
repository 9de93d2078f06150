"""`algo up`: servers, migrations, streams, first admin, then web + pipeline as children.

The servers run in their own sessions so the terminal's Ctrl-C reaches only this
process and its web/pipeline children; those drain and close their pools first, and
the servers are stopped last.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

from core import aio
from core.bootstrap import (
    NewAccount,
    create_streams,
    rebuild_runtime_state,
    seed_admin,
    seed_reference_data,
)
from core.db import migrate
from core.embedded.process import pick_port, wait_until
from core.embedded.stack import EmbeddedStack, Endpoints
from core.settings import Settings

ALL_ROLES: Sequence[str] = ("feed", "trigger", "slwatch", "executor", "notifier", "playground")


@dataclass
class Child:
    """A web or pipeline process started by `algo up`."""

    name: str
    proc: subprocess.Popen[bytes]


def _child_env(settings: Settings, endpoints: Endpoints, web_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ALGO_NATS_URL": endpoints.nats_url,
        "ALGO_DATABASE_URL": endpoints.database_url,
        "ALGO_REDIS_URL": endpoints.redis_url,
        "ALGO_WEB_PORT": str(web_port),
        "ALGO_DATA_DIR": str(settings.data_dir.resolve()),
    })
    if endpoints.nats_monitor_url and not settings.nats_monitor_url:
        env["ALGO_NATS_MONITOR_URL"] = endpoints.nats_monitor_url
    if not settings.ready_roles:
        env["ALGO_READY_ROLES"] = ",".join(ALL_ROLES)
    return env


def _ready(url: str) -> bool:
    # Our own child on loopback: its certificate may name the public host, not 127.0.0.1.
    context = ssl._create_unverified_context() if url.startswith("https:") else None  # noqa: S323
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as resp:  # noqa: S310
            return int(resp.status) == 200
    except OSError:
        return False


def _banner(endpoints: Endpoints, admin: NewAccount | None, settings: Settings) -> str:
    lines = [
        "",
        "algo is up.",
        f"  web API     {endpoints.web_url}   (docs: {endpoints.web_url}/docs,"
        f" health: {endpoints.web_url}/health/ready)",
        f"  NATS        {endpoints.nats_url}"
        + (f"   (monitoring: {endpoints.nats_monitor_url})" if endpoints.nats_monitor_url else ""),
        f"  PostgreSQL  {endpoints.public()['database_url']}",
        f"  Redis       {endpoints.redis_url}",
        f"  embedded    {', '.join(endpoints.started) or 'none (external servers)'}",
        f"  data dir    {settings.data_dir.resolve()}   (endpoints.json written there)",
    ]
    if admin is not None:
        lines += [
            "",
            "  First admin account — the password is shown this once, only its hash is stored:",
            f"    e-mail    {admin.email}",
            f"    password  {admin.password}",
        ]
    lines += ["", "Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)


class Supervisor:
    """Owns the stack and the children; stops them all on a signal or a child's death."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stack = EmbeddedStack(settings)
        self.children: list[Child] = []
        self._stopping = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Bring everything up, wait, bring everything down; returns the exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        endpoints_path = self.settings.data_dir / "endpoints.json"
        try:
            endpoints = self.stack.start()
            print(f"servers ready: {', '.join(endpoints.started) or 'external'}", flush=True)
            migrate.upgrade(endpoints.database_url)
            aio.run(seed_reference_data(endpoints.database_url))
            running = aio.run(rebuild_runtime_state(endpoints.database_url, endpoints.redis_url))
            print(f"running strategies armed from PostgreSQL: {running}", flush=True)
            aio.run(create_streams(self.settings, endpoints.nats_url))
            admin = aio.run(seed_admin(self.settings, endpoints.database_url))
            web_port = pick_port(self.settings.web_port, self.settings.web_host)
            scheme = "https" if self.settings.tls_enabled else "http"
            web_url = f"{scheme}://{self.settings.web_host}:{web_port}"
            endpoints = self.stack.endpoints(web_url)
            env = _child_env(self.settings, endpoints, web_port)
            self._spawn("web", [sys.executable, "-m", "web"], env)
            self._spawn("pipeline", [sys.executable, "-m", "pipeline", *ALL_ROLES], env)
            wait_until(lambda: self._stopping or _ready(f"{web_url}/health/ready"),
                       what="web /health/ready", timeout_s=60)
            if self._stopping:
                return 0
            endpoints.write(self.settings.data_dir)
            print(_banner(endpoints, admin, self.settings), flush=True)
            return self._wait()
        finally:
            self._shutdown()
            endpoints_path.unlink(missing_ok=True)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.children.append(Child(name, subprocess.Popen(argv, env=env)))

    def _wait(self) -> int:
        while not self._stopping:
            for child in self.children:
                code = child.proc.poll()
                if code is not None:
                    print(f"{child.name} exited with {code}; stopping everything",
                          file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.2)
        return 0

    def _shutdown(self) -> None:
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout_s
        for child in self.children:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        self.stack.stop()
        print("algo stopped.", flush=True)


def up(settings: Settings) -> int:
    """Entry point of `algo up`."""
    return Supervisor(settings).run()
