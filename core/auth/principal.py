"""Who is calling: the result of authenticating a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.db.enums import Role
from core.rbac import Permission, allowed


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller; `role` is read from the database, not trusted from the token."""

    user_id: str
    role: Role
    email: str
    jti: str | None
    """The access token's id (for a stream ticket: that of the token that issued it)."""
    session_id: str
    """The login session (refresh-token family) the credential belongs to."""
    expires_at: int | None
    created_at: datetime
    last_login_at: datetime | None

    def can(self, permission: Permission) -> bool:
        """True if the caller's role holds `permission`."""
        return allowed(self.role, permission)
