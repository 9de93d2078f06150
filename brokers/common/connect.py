"""What every broker's connector (brokers/<name>/connector.py) does with an adapter error:
turn it into a connection error of core/connections/errors.py.

    adapter says                                   connection error
    TokenExpired (the broker refused the login,    SessionDead for a stored session's
      the code or the session)                       check, else CredentialsRejected
    a login answered with one of the connector's   CredentialsRejected
      `refusals` (its broker's own codes for
      "wrong client id, PIN or password")
    anything else: RateLimited, no HTTP answer,    BrokerUnreachable (retry later)
      5xx, and any other answer whatever its
      HTTP status (Angel's HTTP 200 AB1004
      "Something went wrong", Kite's non-token
      4xx, ...)

Only an answer that names the credentials or the session as the problem is a verdict on
them: a session check that fails for any other reason leaves the connection valid (the
probe records the broker as unreachable; core/connections/probe.py), so a temporary
broker error never marks a working session invalid.

The message names the broker, the HTTP status and the broker's error code only: broker
text may echo what it was sent, and no connection error may carry a secret or token.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from brokers.errors import BrokerError, TokenExpired
from core.connections.errors import BrokerUnreachable, CredentialsRejected, SessionDead

CODE_KEYS: Final = ("error_type", "error_code", "errorcode", "code")
"""Where each adapter's errors.py keeps the broker's own error code (Kite, Dhan, Angel
One, Fyers)."""


def connection_error(exc: BrokerError, broker: str, what: str, *, session: bool = False,
                     refusals: Collection[str] = ()) -> Exception:
    """`exc` as a connection error; `what` names the call ("login", "session check"),
    `session` says a stored session was being checked, `refusals` are the broker codes
    with which a login refuses the credentials."""
    response = exc.response or {}
    status = response.get("http_status")
    code = next((str(response[k]) for k in CODE_KEYS if response.get(k) not in (None, "")),
                "error")
    if isinstance(exc, TokenExpired):
        if session:
            return SessionDead(f"{broker} no longer accepts this session ({code})")
        return CredentialsRejected(f"{broker} refused the {what} ({code})")
    if not session and code in refusals:
        return CredentialsRejected(f"{broker} refused the {what} (HTTP {status} {code})")
    return BrokerUnreachable(f"{broker} did not answer the {what}"
                             + (f" (HTTP {status} {code})" if status else ""))
