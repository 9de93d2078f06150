"""The three-node JetStream cluster of `deploy/nats-cluster/`, run for real on loopback.

Each node runs the committed `n{i}.conf` with only what a single host forces changed: its
client, monitoring and cluster ports (loopback, free ones), the routes (`nats://nK:6222` →
the other nodes' loopback cluster ports) and its store directory. Everything else — server
names, `sync_interval: always`, limits, lame duck — is the committed file's, so a change
there that nats-server refuses, or one this rewrite no longer recognises, fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from core.embedded.nats_server import nats_server_binary
from core.embedded.process import (
    EmbeddedServerError,
    pick_port,
    spawn,
    terminate,
    wait_until,
)

DEPLOY_DIR: Final = Path(__file__).resolve().parents[2] / "deploy" / "nats-cluster"
NODES: Final = ("n1", "n2", "n3")


class ConfigShapeError(EmbeddedServerError):
    """A committed node config no longer has a line this loopback rewrite replaces."""


@dataclass
class ClusterNode:
    """One node: its ports, store, config and process."""

    name: str
    root: Path
    port: int
    monitor_port: int
    cluster_port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        """HTTP monitoring URL."""
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def log_path(self) -> Path:
        """Where the server writes its log."""
        return self.root / "nats.log"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def monitor(self, path: str) -> dict[str, Any]:
        """GET a monitoring endpoint as JSON (raises OSError when the node does not answer)."""
        with urllib.request.urlopen(f"{self.monitor_url}{path}", timeout=1.0) as resp:  # noqa: S310
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def healthy(self) -> bool:
        """Plain /healthz: JetStream up, a meta leader known, this node's replicas current."""
        try:
            with urllib.request.urlopen(f"{self.monitor_url}/healthz", timeout=1.0) as resp:  # noqa: S310
                return int(resp.status) == 200
        except OSError:
            return False


def _replace(text: str, pattern: str, replacement: str, *, node: str, count: int = 1) -> str:
    new, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if found != count:
        raise ConfigShapeError(f"deploy/nats-cluster/{node}.conf: expected {count} match(es) "
                               f"of {pattern!r}, found {found}")
    return new


def loopback_config(committed: str, node: ClusterNode, peers: list[ClusterNode]) -> str:
    """The committed config of `node` with its ports, routes and store moved to loopback."""
    name = node.name
    text = _replace(committed, r"^listen: 0\.0\.0\.0:4222$", f"listen: 127.0.0.1:{node.port}",
                    node=name)
    text = _replace(text, r"^http: 8222$", f"http: 127.0.0.1:{node.monitor_port}", node=name)
    text = _replace(text, r"^(\s+)listen: 0\.0\.0\.0:6222$",
                    rf"\g<1>listen: 127.0.0.1:{node.cluster_port}", node=name)
    for peer in peers:
        text = _replace(text, rf"nats://{peer.name}:6222",
                        f"nats://127.0.0.1:{peer.cluster_port}", node=name)
    store = node.root / "jetstream"
    return _replace(text, r'^(\s+)store_dir: "/data/jetstream"$',
                    rf'\g<1>store_dir: "{store}"', node=name)


@dataclass
class NatsCluster:
    """Three nodes from `deploy/nats-cluster/`, each with its store under `root/<name>`."""

    root: Path
    config_dir: Path = DEPLOY_DIR
    nodes: list[ClusterNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.nodes:
            self.nodes = [ClusterNode(name, self.root / name, pick_port(0), pick_port(0),
                                      pick_port(0)) for name in NODES]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated (what ALGO_NATS_URL takes)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> ClusterNode:
        """The node called `name`."""
        return next(n for n in self.nodes if n.name == name)

    def write_configs(self) -> None:
        """Render every node's loopback config next to its store."""
        for node in self.nodes:
            committed = (self.config_dir / f"{node.name}.conf").read_text()
            peers = [peer for peer in self.nodes if peer is not node]
            node.root.mkdir(parents=True, exist_ok=True)
            (node.root / "nats.conf").write_text(loopback_config(committed, node, peers))

    def launch(self, node: ClusterNode) -> None:
        """Start one node's process (its config must be written) without waiting."""
        node.proc = spawn([nats_server_binary(), "-c", str(node.root / "nats.conf")],
                          node.log_path)

    def start(self, timeout_s: float = 60.0) -> None:
        """Write the configs, start every node, wait until each is healthy."""
        self.write_configs()
        try:
            for node in self.nodes:
                self.launch(node)
            for node in self.nodes:
                self.wait_healthy(node, timeout_s)
        except BaseException:
            self.stop()
            raise

    def wait_healthy(self, node: ClusterNode, timeout_s: float = 60.0) -> None:
        """Block until `node` answers a plain /healthz with 200 (caught up)."""
        wait_until(node.healthy, what=f"nats node {node.name}", timeout_s=timeout_s,
                   proc=node.proc, log_path=node.log_path)

    def kill(self, node: ClusterNode) -> None:
        """SIGKILL `node` (no lame duck, no flush): a crash."""
        if node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait(10)

    def restart(self, node: ClusterNode, timeout_s: float = 60.0) -> None:
        """Start a stopped node again on its own store and wait until it has caught up."""
        self.launch(node)
        self.wait_healthy(node, timeout_s)

    def stop(self) -> None:
        """SIGTERM every node still running (SIGKILL after a grace)."""
        for node in self.nodes:
            if node.proc is not None:
                terminate(node.proc)
                node.proc = None
