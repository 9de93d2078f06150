"""What every broker's connector (brokers/<name>/connector.py) does with an adapter error:
turn it into a connection error of core/connections/errors.py.

    adapter says                                   connection error
    TokenExpired (the broker refused the login,    SessionDead for a stored session's
      the code or the session)                       check, else CredentialsRejected
    RateLimited, no HTTP answer, HTTP 5xx          BrokerUnreachable (retry later)
    any other HTTP answer (4xx, or a 2xx failure)  CredentialsRejected

The message names the broker, the HTTP status and the broker's error code only: broker
text may echo what it was sent, and no connection error may carry a secret or token.
"""

from __future__ import annotations

from typing import Final

from brokers.errors import BrokerError, RateLimited, TokenExpired
from core.connections.errors import BrokerUnreachable, CredentialsRejected, SessionDead

CODE_KEYS: Final = ("error_type", "error_code", "errorcode", "code")
"""Where each adapter's errors.py keeps the broker's own error code (Kite, Dhan, Angel
One, Fyers)."""


def connection_error(exc: BrokerError, broker: str, what: str, *,
                     session: bool = False) -> Exception:
    """`exc` as a connection error; `what` names the call ("login", "session check"),
    `session` says a stored session was being checked."""
    response = exc.response or {}
    status = response.get("http_status")
    code = next((str(response[k]) for k in CODE_KEYS if response.get(k) not in (None, "")),
                "error")
    if isinstance(exc, TokenExpired):
        if session:
            return SessionDead(f"{broker} no longer accepts this session ({code})")
        return CredentialsRejected(f"{broker} refused the {what} ({code})")
    if isinstance(exc, RateLimited) or status is None or int(status) >= 500:
        return BrokerUnreachable(f"{broker} did not answer the {what}"
                                 + (f" (HTTP {status})" if status else ""))
    return CredentialsRejected(f"{broker} refused the {what} (HTTP {status} {code})")
