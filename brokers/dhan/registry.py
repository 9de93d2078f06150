"""How the broker factory builds a Dhan account from its stored credential (BRK-8).

The credential row holds the Dhan client id in `client_id`, the access token sealed in
`encrypted_access_token` and its expiry in `token_expires_at` (for the API-key login, the
app id and secret sit sealed in `encrypted_api_key` / `encrypted_api_secret`). Building never
fails for a missing or unreadable credential: see brokers/common/credentials.py.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import BaseBroker
from brokers.common.credentials import keep_last_good, open_credential
from brokers.dhan.broker import DhanBroker, DhanConfig, DhanCredentials
from brokers.dhan.instruments import DhanInstruments
from core.clock import Clock
from core.crypto import SecretBox
from core.db.enums import BrokerType
from core.settings import Settings

NO_SESSION = DhanCredentials(client_id="", access_token=None)


class DhanBuilder:
    """A brokers.factory.BrokerBuilder for Dhan accounts; every account it builds shares
    one scrip master."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Clock) -> None:
        self._box = SecretBox(settings.encryption_key_map)
        self._config = DhanConfig.from_settings(settings)
        self._sessions = sessions
        self._clock = clock
        self.instruments = DhanInstruments(clock)

    async def __call__(self, *, user_id: str, credential_id: str | None) -> BaseBroker:
        """An unconnected DhanBroker for the user's credential."""
        current = await self.load(user_id, credential_id)
        reload = keep_last_good(lambda: self.load(user_id, credential_id), current)
        return DhanBroker(f"dhan:{credential_id}", current, self._config, self.instruments,
                          self._clock, reload=reload)

    async def load(self, user_id: str, credential_id: str | None) -> DhanCredentials:
        """The decrypted session of a credential (NO_SESSION if there is none usable)."""
        opened = await open_credential(self._sessions, self._box, user_id=user_id,
                                       credential_id=credential_id,
                                       broker_type=BrokerType.DHAN.value)
        if opened is None or not opened.client_id:
            return NO_SESSION
        return DhanCredentials(client_id=opened.client_id, access_token=opened.access_token,
                               expires_at=opened.expires_at)
