"""The migration chain builds exactly the models' schema and tears it down again."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from core.db import migrate
from core.db.base import Base
from core.db.engine import create_engine
from core.embedded.stack import EmbeddedStack

EXPECTED_TABLES = {
    "users", "refresh_tokens", "password_resets", "broker_credentials", "strategies", "orders",
    "order_logs", "audit_logs", "notifications", "notification_preferences", "error_logs",
    "daily_user_stats", "trading_calendar_overrides", "instruments", "trading_calendar_years",
    "paper_orders", "halts", "analytics_rollup_days", "daily_broker_stats", "dlq_retries",
    "playground_runs",
}


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _indexes(conn: Connection) -> dict[str, set[str]]:
    insp = inspect(conn)
    return {t: {i["name"] for i in insp.get_indexes(t) if i["name"]} for t in EXPECTED_TABLES}


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_up_and_down_on_an_empty_database(stack: EmbeddedStack) -> None:
    assert stack.postgres is not None, "needs the embedded PostgreSQL to create a database"
    url = stack.postgres.create_database("migration_check")
    engine = create_engine(url, pool_size=1)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == EXPECTED_TABLES | {"alembic_version"}
            assert await conn.run_sync(_diff) == []
            indexes = await conn.run_sync(_indexes)
        assert "ix_users_email" in indexes["users"]
        assert "ix_users_role" in indexes["users"]
        assert "ix_strategies_user_id_status" in indexes["strategies"]
        assert "ix_order_logs_strategy_id" in indexes["order_logs"]

        await asyncio.to_thread(migrate.downgrade, url, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == {"alembic_version"}

        await asyncio.to_thread(migrate.upgrade, url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == EXPECTED_TABLES | {"alembic_version"}
    finally:
        await engine.dispose()
