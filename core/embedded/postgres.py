"""PostgreSQL 16 from the `pgserver` wheel, listening on a unix socket in a runtime dir.

pgserver runs `pg_ctl start`, whose postmaster would share our process group and take
the terminal's Ctrl-C before the web and pipeline processes have closed their pools; so
the start runs in a helper process in its own session, and we stop it explicitly.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.embedded.process import EmbeddedServerError

DATABASE = "algo"
_START_SCRIPT = "import pgserver, sys; pgserver.get_server(sys.argv[1], cleanup_mode=None)"


def _bin(name: str) -> str:
    # Located without importing pgserver, whose import warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("pgserver is not installed: pip install pgserver")
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _system_user() -> str | None:
    # PostgreSQL refuses to run as root; pgserver then runs it as its own 'pgserver' user.
    return "pgserver" if os.name == "posix" and os.geteuid() == 0 else None


@dataclass
class EmbeddedPostgres:
    """A pgserver data directory and the server running on it."""

    root: Path
    socket_dir: str | None = field(default=None, init=False)

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL data directory."""
        return (self.root / "pgdata").resolve()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the application database (no password: local trust auth)."""
        if self.socket_dir is None:
            raise EmbeddedServerError("PostgreSQL is not running")
        return f"postgresql+asyncpg://postgres@/{DATABASE}?host={self.socket_dir}"

    def libpq_url(self, database: str = DATABASE) -> str:
        """A libpq URL (for psql and pg_dump)."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def start(self, timeout_s: float = 120.0) -> None:
        """Initialise on first use, start if not running, create the app database."""
        self.root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.setdefault("XDG_RUNTIME_DIR", str(self.root.resolve()))
        try:
            subprocess.run(
                [sys.executable, "-c", _START_SCRIPT, str(self.pgdata)],
                check=True, start_new_session=True, timeout=timeout_s, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        except subprocess.CalledProcessError as exc:
            log = self.pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedServerError(
                f"PostgreSQL failed to start: {exc.stderr.decode(errors='replace')[-2000:]}"
                f"\n{tail}") from exc
        self.socket_dir = self._read_socket_dir()
        self._ensure_database()

    def _read_socket_dir(self) -> str:
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        # postmaster.pid line 5 is the socket directory (PostgreSQL's documented layout).
        return lines[4].strip()

    def _psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [_bin("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             self.libpq_url(database), "-c", sql],
            check=True, capture_output=True, text=True, timeout=30,
        )
        return out.stdout.strip()

    def _ensure_database(self) -> None:
        # DATABASE is a constant identifier, not input.
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")  # noqa: S608
        if exists != "1":
            self._psql(f"CREATE DATABASE {DATABASE}")

    def create_database(self, name: str) -> str:
        """Create an extra empty database (tests) and return its SQLAlchemy URL."""
        if not name.isidentifier():
            raise ValueError(f"bad database name {name!r}")
        self._psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._psql(f"CREATE DATABASE {name}")
        return f"postgresql+asyncpg://postgres@/{name}?host={self.socket_dir}"

    def is_running(self) -> bool:
        """True if the postmaster of this data directory is alive."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            os.kill(int(pid_file.read_text().splitlines()[0]), 0)
        except (ProcessLookupError, ValueError, IndexError):
            return False
        except PermissionError:
            return True
        return True

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions and stop."""
        if not self.is_running():
            return
        subprocess.run(
            [_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30", "stop"],
            check=False, capture_output=True, timeout=60, user=_system_user(),
        )


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL client program shipped by pgserver (pg_dump, pg_restore, psql)."""
    return _bin(name)
