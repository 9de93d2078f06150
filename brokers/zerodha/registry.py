"""How the broker factory builds a Zerodha account from its stored credential (BRK-8).

The credential row holds the api_key and the access token sealed with core/crypto.py
(the user id is the associated data) and `token_expires_at`. Building never fails for a
missing or unreadable credential: the broker then refuses every call with TokenExpired
(the executor records "log in again") and re-reads the row before each call, so a login
made later is picked up without a restart.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import BaseBroker
from brokers.zerodha.broker import KiteConfig, KiteCredentials, ZerodhaBroker
from brokers.zerodha.instruments import KiteInstruments
from core.clock import Clock
from core.crypto import SecretBox, SecretUnreadable
from core.db.enums import BrokerType
from core.repos import broker_credentials
from core.settings import Settings

log = logging.getLogger("algo.brokers.zerodha")

NO_SESSION = KiteCredentials(api_key="", access_token=None)


class ZerodhaBuilder:
    """A brokers.factory.BrokerBuilder for Zerodha accounts; every account it builds
    shares one instrument master."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Clock) -> None:
        self._box = SecretBox(settings.encryption_key_map)
        self._config = KiteConfig.from_settings(settings)
        self._sessions = sessions
        self._clock = clock
        self.instruments = KiteInstruments(clock)

    async def __call__(self, *, user_id: str, credential_id: str | None) -> BaseBroker:
        """An unconnected ZerodhaBroker for the user's credential."""
        current = await self.load(user_id, credential_id)

        async def reload() -> KiteCredentials:
            nonlocal current
            try:
                current = await self.load(user_id, credential_id)
            except (SQLAlchemyError, OSError) as exc:
                # Keep the session we have: Kite itself will say whether it is dead.
                log.warning("re-reading Zerodha credential %s failed: %s", credential_id, exc)
            return current

        return ZerodhaBroker(f"zerodha:{credential_id}", current, self._config,
                             self.instruments, self._clock, reload=reload)

    async def load(self, user_id: str, credential_id: str | None) -> KiteCredentials:
        """The decrypted session of a credential (NO_SESSION if there is none usable)."""
        if credential_id is None:
            return NO_SESSION
        async with self._sessions() as session:
            row = await broker_credentials.get_owned(session, user_id, credential_id)
        if row is None or row.broker_type != BrokerType.ZERODHA:
            return NO_SESSION
        try:
            api_key = (self._box.open(row.encrypted_api_key, owner=user_id)
                       if row.encrypted_api_key else "")
            token = (self._box.open(row.encrypted_access_token, owner=user_id)
                     if row.encrypted_access_token else None)
        except SecretUnreadable:
            log.warning("Zerodha credential %s does not decrypt", credential_id)
            return NO_SESSION
        return KiteCredentials(api_key=api_key, access_token=token,
                               expires_at=row.token_expires_at)
