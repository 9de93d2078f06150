"""What can go wrong while connecting a broker account.

    AlgoError (core/errors.py)
    ├── ValidationFailed
    │   ├── CredentialsRejected   the broker said no (BRK_003); nothing was stored
    │   │   └── SessionDead       a stored session the broker no longer accepts
    │   ├── LoginFailed           the browser login came back without a usable code (BRK_009)
    │   └── LoginLinkInvalid      a redirect whose state is unknown, used or expired (BRK_006)
    └── Unavailable
        └── BrokerUnreachable     the broker did not answer (BRK_004): retry later
    LoginRequired                 not an error to the user: the broker needs a browser login

Connectors (brokers/<name>/connector.py) translate their broker's errors into these; no
message may carry a secret or token.
"""

from __future__ import annotations

from typing import Any

from core import error_codes
from core.errors import Unavailable, ValidationFailed


class CredentialsRejected(ValidationFailed):
    """The broker refused the credentials or the code."""

    default_code = error_codes.BRK_REJECTED


class SessionDead(CredentialsRejected):
    """The stored access token is no longer accepted (expired or logged out)."""


class LoginFailed(ValidationFailed):
    """The broker's redirect reported a failed or cancelled login."""

    default_code = error_codes.BRK_LOGIN_FAILED


class LoginLinkInvalid(ValidationFailed):
    """An OAuth redirect whose state we did not issue, or already used."""

    default_code = error_codes.BRK_LOGIN_LINK


class BrokerUnreachable(Unavailable):
    """The broker could not be reached or answered with a server error."""

    default_code = error_codes.BRK_UNREACHABLE


class LoginRequired(Exception):
    """The secrets alone cannot make a session: the user must log in at the broker."""

    def __init__(self, details: dict[str, Any] | None = None) -> None:
        super().__init__("a browser login at the broker is needed")
        self.details = details or {}
