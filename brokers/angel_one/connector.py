"""Angel One's `Connector` (core/connections/connector.py): a direct login with the client
code, PIN and TOTP secret (brokers/angel_one/auth.py, AngelHttp.login); no browser.

Secrets: `api_key` (the SmartAPI app key), `client_id` (the client code), `pin` and
`totp_secret` (the base32 secret behind the QR code Angel shows when TOTP is enabled), all
required and kept sealed: with them the adapter logs in again by itself when its session
dies (brokers/angel_one/registry.py). The login's `refreshToken` and `feedToken` are kept
sealed too (`refresh_token`, `feed_token`); the jwtToken is the access token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from brokers.angel_one.auth import ClientIdentity, session_expiry, totp
from brokers.angel_one.http import AngelHttp
from brokers.common.connect import connection_error
from brokers.common.http import Timeouts
from brokers.common.rest import timeouts_from
from brokers.errors import BrokerError, TokenExpired
from core.clock import Clock
from core.connections.connector import Account, Login, Secrets
from core.connections.errors import LoginFailed
from core.db.enums import BrokerType
from core.settings import Settings

LOGIN_REFUSALS: Final = frozenset({"AB1007"})
"""loginByPassword's answer to a wrong client code or PIN ("Invalid clientcode or password");
a wrong TOTP is AB1050, which the adapter already reads as TokenExpired."""


class AngelOneConnector:
    """Logs an Angel One account in and checks its session."""

    broker_type = BrokerType.ANGEL_ONE.value
    required = ("api_key", "client_id", "pin", "totp_secret")

    def __init__(self, api_url: str, clock: Clock, *, identity: ClientIdentity | None = None,
                 timeouts: Timeouts | None = None) -> None:
        self._api_url = api_url
        self._clock = clock
        self._identity = identity
        self._timeouts = timeouts

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> AngelOneConnector:
        """The connector for the configured SmartAPI (`ALGO_ANGEL_*`, `ALGO_BROKER_*`)."""
        return cls(settings.angel_api_url, clock,
                   identity=ClientIdentity(public_ip=settings.angel_client_public_ip),
                   timeouts=timeouts_from(settings))

    def login_url(self, secrets: Secrets, state: str) -> str | None:
        """None: Angel One needs no browser login."""
        return None

    def redirect_code(self, params: Mapping[str, str]) -> str:
        """Never called: no login link is handed out, so no redirect comes back."""
        raise LoginFailed("Angel One has no browser login")

    async def login(self, secrets: Secrets, code: str | None) -> Login:
        """`loginByPassword` with a fresh TOTP, then `getProfile` for the account."""
        http = self._http(secrets["api_key"])
        try:
            now = self._clock.now()
            tokens = await http.login(secrets["client_id"], secrets["pin"],
                                      totp(secrets["totp_secret"]))
            http.set_session(secrets["api_key"], tokens.jwt_token)
            profile = await http.profile()
        except BrokerError as exc:
            raise connection_error(exc, "Angel One", "login", refusals=LOGIN_REFUSALS) from None
        finally:
            await http.close()
        return Login(access_token=tokens.jwt_token,
                     expires_at=session_expiry(now, tokens.jwt_token),
                     account_id=profile.clientcode, account_name=profile.name,
                     extra={"refresh_token": tokens.refresh_token,
                            "feed_token": tokens.feed_token})

    def renewable(self, secrets: Secrets) -> bool:
        """True: the client code, PIN and TOTP secret are required and stored."""
        return all(secrets.get(name) for name in self.required)

    async def check(self, secrets: Secrets, access_token: str) -> Account:
        """`getProfile` with the stored jwtToken. When Angel no longer accepts it, a login
        with the stored PIN and TOTP answers instead: the adapter makes that login by itself
        before its next call (brokers/angel_one/registry.py), so a dead session with working
        credentials is usable, and only credentials Angel refuses fail the check."""
        http = self._http(secrets.get("api_key", ""), access_token)
        try:
            profile = await http.profile()
        except TokenExpired as exc:
            if not self.renewable(secrets):
                raise connection_error(exc, "Angel One", "session check", session=True
                                       ) from None
        except BrokerError as exc:
            raise connection_error(exc, "Angel One", "session check", session=True) from None
        else:
            return Account(account_id=profile.clientcode, name=profile.name)
        finally:
            await http.close()
        login = await self.login(secrets, None)
        return Account(account_id=login.account_id, name=login.account_name)

    def _http(self, api_key: str, jwt: str | None = None) -> AngelHttp:
        return AngelHttp(self._api_url, api_key, identity=self._identity, jwt_token=jwt,
                         timeouts=self._timeouts)
