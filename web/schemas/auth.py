"""Schemas of /auth."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.db.enums import Role
from web.schemas.fields import Email, NewPassword, Password


class RegisterIn(BaseModel):
    """A new account."""

    email: Email
    password: NewPassword


class LoginIn(BaseModel):
    """Credentials."""

    email: Email
    password: Password


class RefreshIn(BaseModel):
    """A refresh token to rotate."""

    refresh_token: str = Field(min_length=1, max_length=4096)


class LogoutIn(BaseModel):
    """The session's refresh token, to end the session as well as the access token."""

    refresh_token: str | None = Field(default=None, min_length=1, max_length=4096)


class ForgotPasswordIn(BaseModel):
    """Where to send a reset token."""

    email: Email


class ResetPasswordIn(BaseModel):
    """A reset token and the new password."""

    token: str = Field(min_length=16, max_length=256)
    new_password: NewPassword


class UserOut(BaseModel):
    """A user as they see themselves."""

    id: str
    email: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None = None


class TokenUser(BaseModel):
    """Who a token pair belongs to."""

    id: str
    email: str
    role: Role


class TokenOut(BaseModel):
    """Access (15 min) and refresh (7 days) tokens."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 — the OAuth token type, not a secret
    expires_in: int
    refresh_expires_in: int
    user: TokenUser


class AcceptedOut(BaseModel):
    """A request taken; the outcome is not disclosed."""

    message: str


class TicketOut(BaseModel):
    """A single-use stream ticket for `?ticket=` on SSE endpoints."""

    ticket: str
    expires_in: int


class SessionOut(BaseModel):
    """One logged-in session (a refresh-token family)."""

    id: str
    created_at: datetime
    expires_at: datetime
    ip: str | None = None
    user_agent: str | None = None


class SessionList(BaseModel):
    """The caller's open sessions, newest first."""

    items: list[SessionOut]
