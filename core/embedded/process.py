"""Child server processes that die with their parent and stop politely."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Final

_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or did not become ready."""


def _die_with_parent() -> None:
    # Linux only: if `algo up` is killed outright, its servers get SIGTERM instead of
    # lingering as orphans holding the ports and data directory.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def spawn(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a server in its own session (so Ctrl-C reaches only us), logging to a file."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if os.name == "posix" else None,
        )


def terminate(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL if it will not go."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wait_until(ready: Callable[[], bool], *, what: str, timeout_s: float,
               proc: subprocess.Popen[bytes] | None = None, log_path: Path | None = None) -> None:
    """Poll `ready()` until true; fail early with the server's log if it exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path else ""
            raise EmbeddedServerError(f"{what} exited with {proc.returncode}:\n{tail}")
        if ready():
            return
        time.sleep(0.05)
    raise EmbeddedServerError(f"{what} was not ready within {timeout_s:.0f}s")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on `host:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


PORT_FLOOR: Final = 20_000
"""Where chosen ports start: clear of the usual fixed ones (4222, 5432, 6379, 8000…)."""


_handed_out: deque[int] = deque(maxlen=512)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def pick_port(preferred: int, host: str = "127.0.0.1") -> int:
    """`preferred` if it is free (and not 0), else a free port below the kernel's
    ephemeral range.

    A port the kernel picks for `bind(0)` comes from the range it also gives outgoing
    connections their local ports from: by the time a server binds it, a client socket
    may hold it ("address already in use", seen once in the test suite)."""
    if preferred and port_is_free(preferred, host):
        return preferred
    low, _ = _ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(100):
        candidate = rng.randrange(PORT_FLOOR, max(PORT_FLOOR + 1, low))
        # Not one handed out a moment ago and not bound yet (a stack picks several).
        if candidate not in _handed_out and port_is_free(candidate, host):
            _handed_out.append(candidate)
            return candidate
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port




def tcp_open(host: str, port: int) -> bool:
    """True if a TCP connection to `host:port` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
