"""Errors of the console's API client.

    ConsoleError
    ├── ApiUnreachable      the web app did not answer (connection, timeout): retryable
    └── ApiError            the web app answered with an error body
        ├── LoginRequired   401 that a token refresh could not cure: log in again
        └── EndpointMissing 404/405 on a route this web app does not serve (older server)
"""

from __future__ import annotations

from typing import Any


class ConsoleError(Exception):
    """Anything the console shows the operator instead of crashing."""


class ApiUnreachable(ConsoleError):
    """The web app could not be reached; trying again may work."""


class ApiError(ConsoleError):
    """An error answer: `{error_code, message, details, trace_id}` (DESIGN §6)."""

    def __init__(self, status: int, error_code: str, message: str,
                 details: Any = None, trace_id: str | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.details = details
        self.trace_id = trace_id


class LoginRequired(ApiError):
    """The session is gone (expired, revoked, refresh reused): the operator logs in again."""


class EndpointMissing(ApiError):
    """The web app has no such route (a console newer than its server)."""
