"""Mapped classes read from and written as plain rows, for statements run on the driver.

A `RowMap` knows a mapped class's columns in table order. `select_list()` names them for
a SELECT; `load()` turns the matching slice of a result record into an instance the way
the ORM's own loader does (values straight into the instance's dict), detached from any
session: nothing is flushed from it, its writer states what changes. `values()` gives an
instance's column values for an INSERT in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, inspect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.instrumentation import manager_of_class

M = TypeVar("M", bound=DeclarativeBase)


class RowMap(Generic[M]):
    """The columns of one mapped class, and instances to and from rows of them."""

    def __init__(self, cls: type[M], *, exclude: Sequence[str] = ()) -> None:
        mapper = inspect(cls)
        self._cls = cls
        self._manager = manager_of_class(cls)
        table = mapper.local_table
        if not isinstance(table, Table):
            raise TypeError(f"{cls.__name__} is not mapped to one table")
        self.table = table.name
        pairs = [(column.name, mapper.get_property_by_column(column).key)
                 for column in table.columns if column.name not in exclude]
        self.columns = tuple(name for name, _ in pairs)
        self._keys = tuple(key for _, key in pairs)
        self.width = len(self._keys)

    def select_list(self, alias: str | None = None) -> str:
        """`a.col1, a.col2, …` in table order."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + name for name in self.columns)

    def insert_sql(self) -> str:
        """`INSERT INTO table (cols) VALUES ($1, …)` for `values()` of an instance.

        Every column is written: one left unset goes in as NULL, not as its default (a
        NOT NULL one fails loudly), so the instance must be built complete."""
        marks = ", ".join(f"${n}" for n in range(1, self.width + 1))
        columns = ", ".join(self.columns)  # from the mapped table, never from input
        return f"INSERT INTO {self.table} ({columns}) VALUES ({marks})"  # noqa: S608

    def load(self, record: Sequence[Any], offset: int = 0) -> M:
        """An instance from `record[offset : offset + width]` (a detached copy of the row)."""
        instance: M = self._manager.new_instance()
        values = instance.__dict__
        for index, key in enumerate(self._keys, start=offset):
            values[key] = record[index]
        return instance

    def values(self, instance: M) -> tuple[Any, ...]:
        """The instance's column values in table order (for `insert_sql()`)."""
        return tuple(getattr(instance, key) for key in self._keys)
