"""The per-broker plug of the connect flow: one `Connector` per broker type.

A broker adapter implements this in `brokers/<name>/connector.py` and adds one line to
`brokers/connectors.py`; the API, the service and the expiry job never change for a new
broker. Secrets are a flat `{name: value}` mapping whose names the connector declares
(`api_key`, `api_secret`, `client_id`, `pin`, `totp_secret`, ...); the service seals them.

Two kinds of login fit the same three calls:
- OAuth (Kite `request_token`, Fyers `auth_code`): `login(secrets, code=None)` raises
  LoginRequired, the user is sent to `login_url(secrets, state)`, and the broker redirects
  to `/broker/callback/{broker_type}` with the code and our `state`; `redirect_code()`
  picks the code out of that query, then `login(secrets, code)` exchanges it.
- Direct (Dhan access token, Angel One client code + PIN + TOTP): `login(secrets, None)`
  returns the session at once; with stored PIN + TOTP it does so again every day without
  the user (`renewable`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

Secrets = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Login:
    """A live broker session, as a finished login yields it."""

    access_token: str
    expires_at: datetime
    """When the broker will stop accepting the token (Indian brokers: daily)."""
    account_id: str
    """The broker's id of the account (Kite user_id, Dhan client id, ...)."""
    account_name: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    """Further session secrets to keep sealed (refresh token, feed token, ...)."""


@dataclass(frozen=True, slots=True)
class Account:
    """What checking a stored session learns."""

    account_id: str
    name: str | None = None


class Connector(Protocol):
    """Logs a user's account in at one broker and checks the session it made."""

    @property
    def broker_type(self) -> str:
        """The `BrokerType` value this connector serves."""
        ...

    @property
    def required(self) -> tuple[str, ...]:
        """Secret names a connection must have (checked before any call)."""
        ...

    def login_url(self, secrets: Secrets, state: str) -> str | None:
        """Where the user logs in, carrying `state` back to our callback; None when the
        broker needs no browser login."""
        ...

    def redirect_code(self, params: Mapping[str, str]) -> str:
        """The code in the broker's redirect query; LoginFailed if the login failed."""
        ...

    async def login(self, secrets: Secrets, code: str | None) -> Login:
        """A session from the secrets (and the redirect's code); LoginRequired when a
        browser login is needed, CredentialsRejected, or BrokerUnreachable."""
        ...

    def renewable(self, secrets: Secrets) -> bool:
        """True if `login(secrets, None)` makes a new session without the user (Angel One's
        and Dhan's PIN + TOTP): the token check renews such a connection instead of asking
        its owner to log in again (core/connections/renewal.py)."""
        ...

    async def check(self, secrets: Secrets, access_token: str) -> Account:
        """Call the broker with a stored session: SessionDead, CredentialsRejected or
        BrokerUnreachable when it is not usable."""
        ...
