"""Fyers' `Connector` (core/connections/connector.py): the browser login and the auth-code
exchange (brokers/fyers/auth.py, FyersHttp.login) behind POST /broker/connect,
/broker/validate and the callback.

Secrets: `api_key` is the Fyers app id ("XXXX-100"), `api_secret` the app secret (both
required; the app's redirect URL must be `ALGO_FYERS_REDIRECT_URL`), optionally an
`access_token` the user already holds. The login link carries our `state`; Fyers sends the
browser back to `/broker/callback/fyers?s=ok&code=200&auth_code=..&state=..`. The session's
refresh token is kept sealed with the other secrets (`refresh_token`).
"""

from __future__ import annotations

from collections.abc import Mapping

from brokers.common.connect import connection_error
from brokers.errors import BrokerError
from brokers.fyers.auth import login_url, token_expiry
from brokers.fyers.broker import FyersConfig
from brokers.fyers.http import FyersHttp
from core.clock import Clock
from core.connections.connector import Account, Login, Secrets
from core.connections.errors import LoginFailed, LoginRequired
from core.db.enums import BrokerType
from core.settings import Settings


class FyersConnector:
    """Logs Fyers accounts in through API v3."""

    broker_type = BrokerType.FYERS.value
    required = ("api_key", "api_secret")

    def __init__(self, config: FyersConfig, redirect_url: str, clock: Clock) -> None:
        self._config = config
        self._redirect_url = redirect_url
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> FyersConnector:
        """The connector for the configured Fyers (`ALGO_FYERS_*`)."""
        return cls(FyersConfig.from_settings(settings), settings.fyers_redirect_url, clock)

    def login_url(self, secrets: Secrets, state: str) -> str | None:
        """Fyers' auth-code page for the user's app, back to our callback with our state."""
        return login_url(self._config.api_url, secrets["api_key"], self._redirect_url, state)

    def redirect_code(self, params: Mapping[str, str]) -> str:
        """The `auth_code` of a successful login redirect (`s=ok`)."""
        code = params.get("auth_code", "")
        if params.get("s") != "ok" or not code:
            raise LoginFailed("Fyers reported the login as "
                              f"{params.get('s') or 'failed'} (code {params.get('code')})")
        return code

    async def login(self, secrets: Secrets, code: str | None) -> Login:
        """`validate-authcode` for the code (or the given access token), then the profile."""
        now = self._clock.now()
        http = self._http(secrets["api_key"])
        try:
            if code:
                session = await http.login(code, secrets["api_secret"], now=now)
                token, expires = session.access_token, session.expires_at
                extra = {"refresh_token": session.refresh_token} if session.refresh_token \
                    else {}
            else:
                token = secrets.get("access_token") or ""
                if not token:
                    raise LoginRequired()
                expires, extra = token_expiry(token, now), {}
            http.set_session(secrets["api_key"], token)
            profile = await http.profile()
        except BrokerError as exc:
            raise connection_error(exc, "Fyers", "login") from None
        finally:
            await http.close()
        return Login(access_token=token, expires_at=expires,
                     account_id=profile.fy_id, account_name=profile.name, extra=extra)

    def renewable(self, secrets: Secrets) -> bool:
        """False: every Fyers session needs the user's browser login."""
        return False

    async def check(self, secrets: Secrets, access_token: str) -> Account:
        """`GET /api/v3/profile` with the stored session."""
        http = self._http(secrets.get("api_key", ""), access_token)
        try:
            profile = await http.profile()
        except BrokerError as exc:
            raise connection_error(exc, "Fyers", "session check", session=True) from None
        finally:
            await http.close()
        return Account(account_id=profile.fy_id, name=profile.name)

    def _http(self, app_id: str, access_token: str | None = None) -> FyersHttp:
        return FyersHttp(self._config.api_url, app_id, access_token=access_token,
                         symbols_url=self._config.symbols_url, timeouts=self._config.timeouts)

