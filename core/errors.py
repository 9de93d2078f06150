"""The error hierarchy of the platform; the web layer maps it to HTTP in one handler.

    AlgoError                  carries a catalogued ErrorCode, message and details
    ├── ValidationFailed       bad input (VAL_*), changes nothing
    ├── NotFound               missing, or another tenant's (never 403 that leaks existence)
    ├── Conflict               a state transition that is not allowed now
    ├── AuthenticationFailed   no or bad credentials (AUTH_*)
    ├── PermissionDenied       authenticated but not allowed
    ├── RateLimited            too many requests; carries retry_after
    └── Unavailable            a dependency (PostgreSQL, Redis, NATS, broker) is down
"""

from __future__ import annotations

from typing import Any

from core import error_codes
from core.error_codes import ErrorCode


class AlgoError(Exception):
    """Base of every error the platform raises on purpose."""

    default_code: ErrorCode = error_codes.SYS_INTERNAL

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message = message or self.code.message
        self.details: dict[str, Any] | list[Any] = details if details is not None else {}
        super().__init__(f"{self.code.code}: {self.message}")

    @property
    def status(self) -> int:
        """The HTTP status of this error's code."""
        return self.code.status


class ValidationFailed(AlgoError):
    """Input that breaks a rule; nothing was changed."""

    default_code = error_codes.VAL_INVALID


class NotFound(AlgoError):
    """The object does not exist for this caller."""

    default_code = error_codes.SYS_NOT_FOUND


class Conflict(AlgoError):
    """The request is valid but not allowed in the object's current state."""

    default_code = error_codes.SYS_CONFLICT


class AuthenticationFailed(AlgoError):
    """Missing, expired or revoked credentials."""

    default_code = error_codes.AUTH_REQUIRED


class PermissionDenied(AlgoError):
    """The caller's role does not allow this action."""

    default_code = error_codes.AUTH_FORBIDDEN


class RateLimited(AlgoError):
    """Too many requests; retry after `retry_after` seconds."""

    default_code = error_codes.SYS_RATE_LIMITED

    def __init__(self, retry_after: int, message: str | None = None,
                 *, code: ErrorCode | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(AlgoError):
    """A dependency is down; the request may succeed later."""

    default_code = error_codes.SYS_UNAVAILABLE
