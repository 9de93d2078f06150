"""Schemas of /admin/users."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field, model_validator

from core.db.enums import Role
from web.schemas.fields import Email, NewPassword


class AdminUserQuery(BaseModel):
    """Filters and paging of the user list."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, pattern=r"^usr_[0-9A-HJKMNP-TV-Z]{26}$")
    role: Role | None = None
    is_active: bool | None = None
    q: str | None = Field(default=None, min_length=1, max_length=100,
                          description="substring of the e-mail")


class AdminUserOut(BaseModel):
    """A user as an admin sees them."""

    id: str
    email: str
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None = None


class AdminUserDetail(AdminUserOut):
    """A user with their strategy count and risk limit."""

    strategy_count: int
    max_daily_loss: Decimal | None = None
    """Realised loss in a day that halts the user's trading; None when there is no limit."""


class AdminUserPage(BaseModel):
    """One page; pass `next_cursor` as `cursor` for the next."""

    items: list[AdminUserOut]
    next_cursor: str | None = None


class AdminUserCreate(BaseModel):
    """A user created by an admin."""

    email: Email
    password: NewPassword
    role: Role = Role.USER


class AdminUserUpdate(BaseModel):
    """Role, active flag and/or max daily loss (null clears the limit)."""

    role: Role | None = None
    is_active: bool | None = None
    max_daily_loss: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)

    @model_validator(mode="after")
    def _something(self) -> AdminUserUpdate:
        if (self.role is None and self.is_active is None
                and "max_daily_loss" not in self.model_fields_set):
            raise ValueError("give role, is_active and/or max_daily_loss")
        return self
