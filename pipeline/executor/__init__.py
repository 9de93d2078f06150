"""Executor: the only code that places broker orders (RUN-5)."""
