"""Angel One's plug of the connect flow (core/connections/connector.py): a direct login
with the client code, PIN and TOTP secret; no browser redirect."""

from __future__ import annotations

from collections.abc import Mapping

from brokers.angel_one.auth import ClientIdentity, session_expiry, totp
from brokers.angel_one.http import AngelHttp
from brokers.common.http import Timeouts
from brokers.errors import BrokerError, TokenExpired
from core.clock import Clock
from core.connections.connector import Account, Login, Secrets
from core.connections.errors import (
    BrokerUnreachable,
    CredentialsRejected,
    LoginFailed,
    SessionDead,
)
from core.db.enums import BrokerType


class AngelOneConnector:
    """Logs an Angel One account in and checks its session."""

    def __init__(self, api_url: str, clock: Clock, *, identity: ClientIdentity | None = None,
                 timeouts: Timeouts | None = None) -> None:
        self._api_url = api_url
        self._clock = clock
        self._identity = identity
        self._timeouts = timeouts

    @property
    def broker_type(self) -> str:
        """angel_one."""
        return BrokerType.ANGEL_ONE.value

    @property
    def required(self) -> tuple[str, ...]:
        """The SmartAPI key, the client code, its PIN and the TOTP secret."""
        return ("api_key", "client_id", "pin", "totp_secret")

    def login_url(self, secrets: Secrets, state: str) -> str | None:
        """None: Angel One needs no browser login."""
        return None

    def redirect_code(self, params: Mapping[str, str]) -> str:
        """Never called (no redirect)."""
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
        except TokenExpired as exc:
            raise CredentialsRejected("Angel One refused the client code, PIN or TOTP: "
                                      f"{exc.message}") from exc
        except BrokerError as exc:
            raise BrokerUnreachable(f"Angel One did not answer: {exc.message}") from exc
        finally:
            await http.close()
        return Login(access_token=tokens.jwt_token,
                     expires_at=session_expiry(now, tokens.jwt_token),
                     account_id=profile.clientcode, account_name=profile.name,
                     extra={"refresh_token": tokens.refresh_token,
                            "feed_token": tokens.feed_token})

    async def check(self, secrets: Secrets, access_token: str) -> Account:
        """`getProfile` with the stored jwtToken."""
        http = self._http(secrets["api_key"], access_token)
        try:
            profile = await http.profile()
        except TokenExpired as exc:
            raise SessionDead(f"Angel One no longer accepts the session: {exc.message}"
                              ) from exc
        except BrokerError as exc:
            raise BrokerUnreachable(f"Angel One did not answer: {exc.message}") from exc
        finally:
            await http.close()
        return Account(account_id=profile.clientcode, name=profile.name)

    def _http(self, api_key: str, jwt: str | None = None) -> AngelHttp:
        return AngelHttp(self._api_url, api_key, identity=self._identity, jwt_token=jwt,
                         timeouts=self._timeouts)
