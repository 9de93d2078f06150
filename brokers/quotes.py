"""Last traded prices for the API: the feed's cache in Redis, else the user's own broker."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.errors import BrokerError
from brokers.factory import BrokerFactory
from core import error_codes, redis_keys
from core.db.engine import autocommit
from core.errors import NotFound
from core.recent import Recent
from core.repos import broker_credentials, instruments

log = logging.getLogger("algo.quotes")

LISTED_FOR_S: Final = 60.0
"""How long a listed instrument is taken as still listed (a delisting shows within it)."""


@dataclass(frozen=True, slots=True)
class Quote:
    """One last traded price and where it came from."""

    exchange: str
    symbol: str
    ltp_paise: int
    source: str
    """`feed` (the cache in Redis) or a broker type."""

    @property
    def ltp(self) -> Decimal:
        """The price in rupees."""
        return (Decimal(self.ltp_paise) / 100).quantize(Decimal("0.01"))


class Quotes:
    """Answers `/market/ltp`: Redis first, one broker call at most per connection."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis,
                 brokers: BrokerFactory) -> None:
        self._sessions = sessions
        self._redis = redis
        self._brokers = brokers
        self._listed: Recent[tuple[str, str]] = Recent(LISTED_FOR_S)
        """Instruments found listed lately: a quoted one is answered from Redis alone."""

    async def ltp(self, user_id: str, exchange: str, symbol: str) -> Quote:
        """The last price of a listed instrument; NotFound when it is unknown or unquoted."""
        raw = await self._redis.get(redis_keys.ltp(exchange, symbol))
        paise = int(raw) if raw is not None else 0
        if paise > 0 and self._listed.fresh((exchange, symbol)):
            return Quote(exchange, symbol, paise, "feed")
        async with self._sessions() as session:
            await autocommit(session)
            if await instruments.get(session, exchange, symbol) is None:
                raise NotFound(f"{exchange}:{symbol} is not in the instrument list",
                               code=error_codes.STR_UNKNOWN_SYMBOL_404)
            self._listed.remember((exchange, symbol))
            if paise > 0:
                return Quote(exchange, symbol, paise, "feed")
            credentials = await broker_credentials.usable_for_user(session, user_id)
        for credential in credentials:
            try:
                broker = await self._brokers.for_account(
                    user_id=user_id, broker_type=credential.broker_type,
                    credential_id=credential.id)
                paise = await broker.get_ltp(exchange, symbol)
            except BrokerError as exc:
                log.info("broker LTP fallback failed: %s", exc,
                         extra={"broker": credential.broker_type})
                continue
            return Quote(exchange, symbol, paise, credential.broker_type)
        raise NotFound(f"No price for {exchange}:{symbol} yet",
                       code=error_codes.MKT_NO_PRICE)
