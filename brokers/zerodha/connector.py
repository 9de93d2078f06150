"""Zerodha's `Connector` (core/connections/connector.py): Kite's browser login and the
request-token exchange behind POST /broker/connect, /broker/validate and the callback.

Secrets: `api_key` and `api_secret` of the user's Kite Connect app (required), optionally
an `access_token` the user already holds. The redirect to `/broker/callback/zerodha`
carries `request_token`, `action=login`, `status=success` and our `state` (sent as
`redirect_params`). No broker text is passed on: Kite's error type and HTTP status only.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from brokers.common.connect import connection_error
from brokers.errors import BrokerError
from brokers.zerodha.auth import login_url, parse_login_time, token_expiry
from brokers.zerodha.broker import KiteConfig
from brokers.zerodha.http import KiteHttp
from core.clock import Clock
from core.connections.connector import Account, Login, Secrets
from core.connections.errors import LoginFailed, LoginRequired
from core.db.enums import BrokerType
from core.settings import Settings


class KiteConnector:
    """Logs Zerodha accounts in through Kite Connect v3."""

    broker_type = BrokerType.ZERODHA.value
    required = ("api_key", "api_secret")

    def __init__(self, config: KiteConfig, login_base: str, clock: Clock, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        self._login_base = login_base
        self._clock = clock
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> KiteConnector:
        """The connector for the configured Kite (`ALGO_KITE_*`)."""
        return cls(KiteConfig.from_settings(settings), settings.kite_login_url, clock)

    def login_url(self, secrets: Secrets, state: str) -> str | None:
        """Kite's login page for the user's app, with our state."""
        return login_url(self._login_base, secrets["api_key"], state)

    def redirect_code(self, params: Mapping[str, str]) -> str:
        """The `request_token` of a successful login redirect."""
        token = params.get("request_token", "")
        if params.get("status") != "success" or not token:
            raise LoginFailed(f"Kite reported the login as {params.get('status') or 'failed'}")
        return token

    async def login(self, secrets: Secrets, code: str | None) -> Login:
        """Exchange the request token (or check a given access token) for a session."""
        now = self._clock.now()
        http = self._http(secrets["api_key"])
        try:
            if code:
                session = await http.generate_session(code, secrets["api_secret"])
                login_at = parse_login_time(session.login_time, now)
                return Login(access_token=session.access_token,
                             expires_at=token_expiry(login_at), account_id=session.user_id,
                             account_name=session.user_name)
            token = secrets.get("access_token")
            if not token:
                raise LoginRequired()
            http.set_session(secrets["api_key"], token)
            profile = await http.profile()
            # When the token was made is unknown; it dies at the next 06:00 IST at latest.
            return Login(access_token=token, expires_at=token_expiry(now),
                         account_id=profile.user_id, account_name=profile.user_name)
        except BrokerError as exc:
            raise _translate(exc, "login") from None
        finally:
            await http.close()

    def renewable(self, secrets: Secrets) -> bool:
        """False: every Kite session needs the user's browser login."""
        return False

    async def check(self, secrets: Secrets, access_token: str) -> Account:
        """`GET /user/profile` with the stored session."""
        http = self._http(secrets.get("api_key", ""), access_token)
        try:
            profile = await http.profile()
        except BrokerError as exc:
            raise _translate(exc, "session check") from None
        finally:
            await http.close()
        return Account(account_id=profile.user_id, name=profile.user_name)

    def _http(self, api_key: str, access_token: str | None = None) -> KiteHttp:
        return KiteHttp(self._config.api_url, api_key, access_token=access_token,
                        timeouts=self._config.timeouts, transport=self._transport)


def _translate(exc: BrokerError, what: str) -> Exception:
    """Kite's answer as a connection error, naming only its status and error type."""
    return connection_error(exc, "Kite", what, session=what == "session check")
