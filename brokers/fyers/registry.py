"""How the broker factory builds a Fyers account from its stored credential (BRK-8).

The credential row holds the Fyers app id ("XXXX-100") sealed in `encrypted_api_key`,
the app secret in `encrypted_api_secret` (needed only to log in), the access token in
`encrypted_access_token` and its expiry (the token's JWT `exp`) in `token_expires_at`;
`client_id` is the user's Fyers id. Building never fails for a missing or unreadable
credential: see brokers/common/credentials.py.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import BaseBroker
from brokers.common.credentials import keep_last_good, open_credential
from brokers.fyers.broker import FyersBroker, FyersConfig, FyersCredentials
from brokers.fyers.instruments import FyersInstruments
from core.clock import Clock
from core.crypto import SecretBox
from core.db.enums import BrokerType
from core.settings import Settings

NO_SESSION = FyersCredentials(app_id="", access_token=None)


class FyersBuilder:
    """A brokers.factory.BrokerBuilder for Fyers accounts; every account it builds shares
    one symbol master."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Clock) -> None:
        self._box = SecretBox(settings.encryption_key_map)
        self._config = FyersConfig.from_settings(settings)
        self._sessions = sessions
        self._clock = clock
        self.instruments = FyersInstruments(clock)

    async def __call__(self, *, user_id: str, credential_id: str | None) -> BaseBroker:
        """An unconnected FyersBroker for the user's credential."""
        current = await self.load(user_id, credential_id)
        reload = keep_last_good(lambda: self.load(user_id, credential_id), current)
        return FyersBroker(f"fyers:{credential_id}", current, self._config, self.instruments,
                           self._clock, reload=reload)

    async def load(self, user_id: str, credential_id: str | None) -> FyersCredentials:
        """The decrypted session of a credential (NO_SESSION if there is none usable)."""
        opened = await open_credential(self._sessions, self._box, user_id=user_id,
                                       credential_id=credential_id,
                                       broker_type=BrokerType.FYERS.value)
        if opened is None or not opened.api_key:
            return NO_SESSION
        return FyersCredentials(app_id=opened.api_key, access_token=opened.access_token,
                                expires_at=opened.expires_at)
