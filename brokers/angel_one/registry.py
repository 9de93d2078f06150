"""How the broker factory builds an Angel One account from its stored connection (BRK-8).

The row (sealed with core/crypto.py, the user id as associated data; layout of
core/connections/vault.py): `encrypted_api_key` the SmartAPI key, `encrypted_access_token`
the jwtToken, `encrypted_extra` a JSON object with `client_id` (the client code), `pin`,
`totp_secret`, `refresh_token` and `feed_token`; `client_id` the client code too, and
`token_expires_at`. Building never fails for a missing or unreadable credential: the
broker then refuses every call with TokenExpired and re-reads the row before each call.
A session the adapter makes by itself (PIN + TOTP) is written back to the row, so the
other processes of the account pick it up instead of logging in again, and the row is
marked valid as a login through /broker/connect marks it (the state of
core/connections/model.py is then `connected`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.angel_one.auth import AngelSession
from brokers.angel_one.broker import AngelConfig, AngelCredentials, AngelOneBroker
from brokers.angel_one.instruments import AngelInstruments
from brokers.base import BaseBroker
from core.clock import Clock
from core.connections import vault
from core.crypto import SecretBox, SecretUnreadable
from core.db.enums import BrokerType
from core.db.models import BrokerCredential
from core.repos import broker_credentials
from core.settings import Settings

log = logging.getLogger("algo.brokers.angel_one")

NO_SESSION = AngelCredentials(api_key="", client_code="")


def credentials_of(box: SecretBox, row: BrokerCredential) -> AngelCredentials:
    """The decrypted credentials of a row (SecretUnreadable if they do not open)."""
    secrets = vault.open_secrets(box, row)
    jwt = vault.open_token(box, row)
    session = None
    if jwt and secrets.get("feed_token"):
        session = AngelSession(jwt_token=jwt, refresh_token=secrets.get("refresh_token", ""),
                               feed_token=secrets["feed_token"],
                               expires_at=row.token_expires_at or datetime.now(UTC))
    return AngelCredentials(api_key=secrets.get("api_key", ""),
                            client_code=secrets.get("client_id") or row.client_id or "",
                            pin=secrets.get("pin"), totp_secret=secrets.get("totp_secret"),
                            session=session)


class AngelOneBuilder:
    """A brokers.factory.BrokerBuilder for Angel One accounts; every account it builds
    shares one scrip master."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Clock) -> None:
        self._box = SecretBox(settings.encryption_key_map)
        self._config = AngelConfig.from_settings(settings)
        self._sessions = sessions
        self._clock = clock
        self.instruments = AngelInstruments(clock)

    async def __call__(self, *, user_id: str, credential_id: str | None) -> BaseBroker:
        """An unconnected AngelOneBroker for the user's credential."""
        current = await self.load(user_id, credential_id)

        async def reload() -> AngelCredentials:
            nonlocal current
            try:
                current = await self.load(user_id, credential_id)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("re-reading Angel One credential %s failed: %s", credential_id,
                            exc)
            return current

        async def on_login(session: AngelSession) -> None:
            if credential_id is not None:
                await self.store(user_id, credential_id, session)

        return AngelOneBroker(f"angel_one:{credential_id}", current, self._config,
                              self.instruments, self._clock, reload=reload,
                              on_login=on_login)

    async def load(self, user_id: str, credential_id: str | None) -> AngelCredentials:
        """The decrypted credentials of a connection (NO_SESSION if none is usable)."""
        if credential_id is None:
            return NO_SESSION
        async with self._sessions() as session:
            row = await broker_credentials.get_owned(session, user_id, credential_id)
        if row is None or row.broker_type != BrokerType.ANGEL_ONE:
            return NO_SESSION
        try:
            return credentials_of(self._box, row)
        except (SecretUnreadable, ValueError) as exc:
            log.warning("Angel One credential %s does not decrypt: %s", credential_id,
                        type(exc).__name__)
            return NO_SESSION

    async def store(self, user_id: str, credential_id: str, login: AngelSession) -> None:
        """Seal a session the adapter made into the connection's row, which is valid again
        (as after a login through /broker/connect: core/connections/service.py `_store`)."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await broker_credentials.get_owned_locked(session, user_id, credential_id)
            if row is None:
                return
            secrets = vault.open_secrets(self._box, row)
            secrets.update(refresh_token=login.refresh_token, feed_token=login.feed_token)
            vault.seal(self._box, row, secrets, login.jwt_token)
            row.token_expires_at = login.expires_at
            # Angel just accepted this session: whatever marked the old one invalid (the
            # token check's `token_expired`, a probe's `rejected_by_broker`) no longer holds.
            row.is_valid, row.status_reason = True, None
            row.last_validated_at = row.updated_at = now
