"""The `broker` tick source: market data from one broker account's WebSocket (BRK-1, RUN-2).

Which account streams: the stored broker credential named by
`ALGO_FEED_BROKER_CREDENTIAL` (a `brk_…` id; an admin connects a broker account, e.g. a
Zerodha one, and names it here). One session quotes every instrument any running strategy
needs, whichever broker the strategy trades on: a tick is an (exchange, symbol) price,
the same on every broker, and one connection per platform keeps within the brokers'
per-account socket limits. Chosen over "the first valid credential of an admin" because an
explicit setting never switches accounts silently when a credential is added, removed or
re-validated.

Every `start()` re-reads the credential and builds the account afresh through the broker
factory, so a session renewed by a new login is picked up at the next (re)start; a missing
credential, or a dead session (TokenExpired from the ticker), is a failure the source runner
retries with backoff. The stale-feed watchdog's REST fallback is the same account's LTP.

The credential must belong to an active admin: the feed serves every user, so a user's own
connection (which its owner may disconnect or let lapse, and whose account the platform
then streams for everyone) is refused at every start with a CRITICAL log line (an admin
alert through the error log) until an admin's connection is configured. Disconnecting the
configured credential is refused by /broker/disconnect (BRK_011).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.base import BaseBroker, Ticker
from brokers.factory import BrokerFactory
from core.clock import Clock
from core.db.enums import Role
from core.db.models import BrokerCredential, User
from core.messages import Tick
from core.settings import Settings
from pipeline.feed.errors import SourceFailed
from pipeline.feed.sources import Instrument
from pipeline.feed.ticker import TickerSource

NAME = "broker"

log = logging.getLogger("algo.feed.broker")


class BrokerAccount:
    """The market-data account: its broker built on demand, closed with the source."""

    def __init__(self, credential_id: str, factory: BrokerFactory,
                 sessions: async_sessionmaker[AsyncSession]) -> None:
        self._credential_id = credential_id
        self._factory = factory
        self._sessions = sessions
        self._alerted = False

    async def broker(self) -> BaseBroker:
        """The connected broker of the credential (SourceFailed if it is gone)."""
        async with self._sessions() as session:
            # By id alone: the credential is chosen by configuration, not by a tenant.
            row = await session.get(BrokerCredential, self._credential_id)
            owner = None if row is None else await session.get(User, row.user_id)
        if row is None or row.deleted_at is not None:
            raise SourceFailed(f"the market-data credential {self._credential_id} "
                               "(ALGO_FEED_BROKER_CREDENTIAL) does not exist")
        if owner is None or owner.role != Role.ADMIN.value or not owner.is_active \
                or owner.deleted_at is not None:
            self._refuse_owner(row.user_id)
        return await self._factory.for_account(user_id=row.user_id,
                                               broker_type=row.broker_type,
                                               credential_id=row.id)

    def _refuse_owner(self, user_id: str) -> None:
        message = (f"the market-data credential {self._credential_id} "
                   f"(ALGO_FEED_BROKER_CREDENTIAL) belongs to {user_id}, who is not an "
                   "active admin: configure a broker connection of an admin")
        if not self._alerted:
            self._alerted = True
            log.critical(message, extra={"credential_id": self._credential_id,
                                         "user_id": user_id})
        raise SourceFailed(message)

    async def ticker(self) -> Ticker:
        """A new market-data stream of the account."""
        return (await self.broker()).ticker()

    async def get_ltp(self, exchange: str, symbol: str) -> int:
        """The account's REST LTP, in paise."""
        return await (await self.broker()).get_ltp(exchange, symbol)

    async def close(self) -> None:
        """Close the account's broker (built again by the next call)."""
        await self._factory.close()


class BrokerSource:
    """A TickSource on the market-data account's ticker."""

    def __init__(self, account: BrokerAccount) -> None:
        self._account = account
        self._inner = TickerSource(NAME, account.ticker, get_ltp=account.get_ltp)

    @classmethod
    def from_settings(cls, settings: Settings, credential_id: str,
                      sessions: async_sessionmaker[AsyncSession], redis: Redis,
                      clock: Clock) -> BrokerSource:
        """The source of `credential_id`, its brokers built by a factory of its own."""
        factory = BrokerFactory(settings, sessions, redis, clock)
        return cls(BrokerAccount(credential_id, factory, sessions))

    @property
    def name(self) -> str:
        """`broker`."""
        return NAME

    async def start(self) -> None:
        """Build the account and open its ticker."""
        await self._inner.start()

    async def close(self) -> None:
        """Close the ticker and the account."""
        try:
            await self._inner.close()
        finally:
            await self._account.close()

    async def subscribe(self, instruments: set[Instrument]) -> None:
        """Subscribe the ticker."""
        await self._inner.subscribe(instruments)

    async def unsubscribe(self, instruments: set[Instrument]) -> None:
        """Unsubscribe the ticker."""
        await self._inner.unsubscribe(instruments)

    def ticks(self) -> AsyncIterator[Tick]:
        """The ticker's ticks."""
        return self._inner.ticks()

    async def last_price(self, exchange: str, symbol: str) -> int | None:
        """The account's REST LTP."""
        return await self._inner.last_price(exchange, symbol)
