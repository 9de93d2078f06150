"""Gather what the validator needs to know about a strategy from PostgreSQL and Redis."""

from __future__ import annotations

from decimal import Decimal

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from core import redis_keys
from core.repos import broker_credentials, instruments
from core.strategies.strategy_validator import PAPER, Facts, StrategySpec


async def last_price(redis: Redis, exchange: str, symbol: str) -> Decimal | None:
    """The cached last traded price in rupees, if the feed has one (paise in Redis)."""
    try:
        raw = await redis.get(redis_keys.ltp(exchange, symbol))
    except RedisError:
        return None  # the price-relative rules are skipped, never guessed
    if raw is None:
        return None
    return (Decimal(int(raw)) / 100).quantize(Decimal("0.01"))


async def facts_for(session: AsyncSession, redis: Redis, user_id: str,
                    spec: StrategySpec) -> Facts:
    """The facts about `spec` for `user_id` (ownership checked in the repository)."""
    known = await instruments.get(session, spec.exchange, spec.symbol) is not None
    owned = spec.broker == PAPER or (
        await broker_credentials.get_owned(session, user_id, spec.broker) is not None)
    return Facts(instrument_known=known, last_price=await last_price(redis, spec.exchange,
                                                                     spec.symbol),
                 broker_owned=owned)


async def facts_for_many(session: AsyncSession, redis: Redis, user_id: str,
                         specs: list[StrategySpec]) -> list[Facts]:
    """`facts_for` of many specs in three round trips instead of three per spec."""
    pairs = sorted({(s.exchange, s.symbol) for s in specs})
    known = await instruments.known(session, pairs)
    brokers = sorted({s.broker for s in specs if s.broker != PAPER})
    owned = await broker_credentials.owned_ids(session, user_id, brokers)
    try:
        raw = await redis.mget([redis_keys.ltp(e, s) for e, s in pairs]) if pairs else []
    except RedisError:
        raw = [None] * len(pairs)
    prices = {pair: (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
              for pair, value in zip(pairs, raw, strict=True) if value is not None}
    return [Facts(instrument_known=(s.exchange, s.symbol) in known,
                  last_price=prices.get((s.exchange, s.symbol)),
                  broker_owned=s.broker == PAPER or s.broker in owned) for s in specs]
