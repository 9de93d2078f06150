"""Alembic migration scripts (async env); run through `core.db.migrate` or `algo migrate`."""
