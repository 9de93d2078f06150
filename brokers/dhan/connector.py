"""Dhan's `Connector` (core/connections/connector.py): a direct login behind POST
/broker/connect and /broker/validate, by either of two of brokers/dhan/auth.py's routes.

- Access token (route 1): `client_id` and an `access_token` the user generated on
  web.dhan.co; checked with `GET /v2/profile`, whose `tokenValidity` is its expiry.
- PIN + TOTP (route 2): `client_id`, `pin` and `totp_secret` (the base32 secret behind the
  QR code Dhan shows when TOTP is enabled); `POST {auth}/app/generateAccessToken` with a
  fresh code makes a 24-hour token, and reconnecting the connection makes the next one
  without the user sending anything.

Everything sent is kept sealed (core/connections/vault.py); the token in its own column.
The API-key consent route (3) is not offered: it needs a network call to make the login
link (`generate-consent`) and Dhan's redirect (`?tokenId=`) carries no `state` to
authenticate our callback with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import pyotp

from brokers.common.connect import connection_error
from brokers.dhan.auth import DhanAuth, DhanSession, parse_expiry
from brokers.dhan.broker import DhanConfig
from brokers.dhan.http import DhanHttp
from brokers.errors import BrokerError
from core import error_codes
from core.clock import Clock
from core.connections.connector import Account, Login, Secrets
from core.connections.errors import LoginFailed
from core.db.enums import BrokerType
from core.errors import ValidationFailed
from core.settings import Settings

LOGIN_REFUSALS: Final = frozenset({"DH-905"})
"""A login's answer to an unknown client id (wrong PIN or TOTP is DH-901: TokenExpired)."""


class DhanConnector:
    """Logs Dhan accounts in with an access token, or with the PIN and a TOTP."""

    broker_type = BrokerType.DHAN.value
    required = ("client_id",)

    def __init__(self, config: DhanConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> DhanConnector:
        """The connector for the configured Dhan (`ALGO_DHAN_*`)."""
        return cls(DhanConfig.from_settings(settings), clock)

    def login_url(self, secrets: Secrets, state: str) -> str | None:
        """None: the routes offered need no browser login."""
        return None

    def redirect_code(self, params: Mapping[str, str]) -> str:
        """Never called: no login link is handed out, so no redirect comes back."""
        raise LoginFailed("Dhan has no browser login here")

    async def login(self, secrets: Secrets, code: str | None) -> Login:
        """The given access token checked, or a new one from the PIN and a TOTP."""
        client_id = secrets["client_id"]
        try:
            if secrets.get("access_token"):
                return await self._checked(client_id, secrets["access_token"])
            if secrets.get("pin") and secrets.get("totp_secret"):
                return await self._pin_login(client_id, secrets["pin"],
                                             secrets["totp_secret"])
        except BrokerError as exc:
            raise connection_error(exc, "Dhan", "login", refusals=LOGIN_REFUSALS) from None
        raise ValidationFailed("Dhan needs an access_token, or the pin and totp_secret",
                               code=error_codes.BRK_MISSING_FIELDS,
                               details={"missing": ["access_token"]})

    def renewable(self, secrets: Secrets) -> bool:
        """True with the PIN and TOTP secret stored (route 2); an access token (route 1)
        is the user's to renew."""
        return bool(secrets.get("client_id") and secrets.get("pin")
                    and secrets.get("totp_secret"))

    async def check(self, secrets: Secrets, access_token: str) -> Account:
        """`GET /v2/profile` with the stored session."""
        http = self._http(secrets.get("client_id", ""), access_token)
        try:
            profile = await http.profile()
        except BrokerError as exc:
            raise connection_error(exc, "Dhan", "session check", session=True) from None
        finally:
            await http.close()
        return Account(account_id=profile.dhan_client_id)

    async def _checked(self, client_id: str, token: str) -> Login:
        now = self._clock.now()
        http = self._http(client_id, token)
        try:
            profile = await http.profile()
        finally:
            await http.close()
        return Login(access_token=token, expires_at=parse_expiry(profile.token_validity, now),
                     account_id=profile.dhan_client_id)

    async def _pin_login(self, client_id: str, pin: str, totp_secret: str) -> Login:
        now = self._clock.now()
        auth = DhanAuth(self._config.auth_url, timeouts=self._config.timeouts)
        try:
            # The code must match Dhan's clock: the wall clock, never an injected one.
            answer = await auth.pin_totp(client_id, pin, pyotp.TOTP(totp_secret).now())
        finally:
            await auth.close()
        session = DhanSession.of(answer, now)
        return Login(access_token=session.access_token, expires_at=session.expires_at,
                     account_id=session.client_id, account_name=session.client_name)

    def _http(self, client_id: str, access_token: str) -> DhanHttp:
        return DhanHttp(self._config.api_url, client_id, access_token=access_token,
                        timeouts=self._config.timeouts)
