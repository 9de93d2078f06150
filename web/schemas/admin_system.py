"""Schemas of /admin/system."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from core.halts import MAX_REASON_CHARS

SCOPE_PATTERN = r"^(global|usr_[0-9A-HJKMNP-TV-Z]{26})$"


class HaltCreate(BaseModel):
    """Engage the kill switch for everyone (`global`) or for one user (their id)."""

    scope: str = Field(pattern=SCOPE_PATTERN, examples=["global"])
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=MAX_REASON_CHARS)]


class HaltOut(BaseModel):
    """One engaged halt; `set_by` is None when the system tripped it (max daily loss)."""

    scope: str
    reason: str
    set_by: str | None = None
    created_at: datetime


class HaltList(BaseModel):
    """Every engaged halt, oldest first."""

    items: list[HaltOut]
