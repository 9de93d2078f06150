"""Run Alembic programmatically: `algo migrate`, `algo up` and the tests all come here.

Alembic's async env calls `asyncio.run`, so from async code call these through
`asyncio.to_thread`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config


def _script_location() -> str:
    # The migration scripts ship as the `migrations` package; found by location, not imported.
    spec = importlib.util.find_spec("migrations")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the migrations package is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))))


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our scripts and `database_url`."""
    config = Config()
    config.set_main_option("script_location", _script_location())
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Revert migrations down to `revision`."""
    command.downgrade(alembic_config(database_url), revision)
