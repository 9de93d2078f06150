"""Schemas of /admin/users."""

from __future__ import annotations

from datetime import datetime

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
    """A user with their strategy count."""

    strategy_count: int


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
    """Role and/or active flag."""

    role: Role | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> AdminUserUpdate:
        if self.role is None and self.is_active is None:
            raise ValueError("give role and/or is_active")
        return self
