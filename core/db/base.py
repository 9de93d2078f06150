"""Declarative base with a naming convention so Alembic names every constraint the same way."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, MetaData, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Column shapes used across tables.
PrefixedId = Annotated[str, mapped_column(String(32), primary_key=True)]
Money = Annotated[Decimal, mapped_column(Numeric(14, 2))]
CreatedAt = Annotated[
    datetime, mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
]
UpdatedAt = Annotated[
    datetime,
    mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    ),
]
Timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]
JsonDict = Annotated[dict[str, Any], mapped_column(JSONB, nullable=False, server_default="{}")]
SerialId = Annotated[int, mapped_column(BigInteger, primary_key=True, autoincrement=True)]


class Base(DeclarativeBase):
    """Base of every table model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
