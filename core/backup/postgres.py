"""A logical dump of the application database with pgserver's pg_dump / pg_restore.

The custom format (`-Fc`) is compressed and restores in dependency order; ownership and
grants are left out, so a dump restores into any role's database. pgserver ships the
PostgreSQL 16 client programs: they dump servers up to 16. The password (if the URL has
one) goes through PGPASSWORD, never the command line.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from core.embedded.postgres import pg_tool


def libpq_url(database_url: str) -> tuple[str, dict[str, str]]:
    """The libpq form of a SQLAlchemy URL (TLS options kept), and the env holding its password."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def dump(database_url: str, path: Path, timeout_s: float = 3600) -> None:
    """`pg_dump -Fc` of the database into `path`."""
    url, env = libpq_url(database_url)
    subprocess.run([pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges",
                    "-f", str(path), "-d", url],
                   check=True, env=env, timeout=timeout_s, capture_output=True)


def restore(database_url: str, path: Path, *, clean: bool, timeout_s: float = 3600) -> None:
    """`pg_restore` of `path` into the database (`clean`: drop what the dump recreates)."""
    url, env = libpq_url(database_url)
    argv = [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
            "--single-transaction", "-d", url, str(path)]
    if clean:
        argv[1:1] = ["--clean", "--if-exists"]
    subprocess.run(argv, check=True, env=env, timeout=timeout_s, capture_output=True)
