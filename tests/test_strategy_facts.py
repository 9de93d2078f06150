"""The validator's facts come from the instrument list, the LTP cache and owned credentials."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.enums import StopLossType
from core.db.models import BrokerCredential
from core.ids import new_id
from core.repos import users
from core.strategies.facts import facts_for
from core.strategies.strategy_validator import PAPER, StrategySpec


def _spec(symbol: str = "RELIANCE", broker: str = PAPER) -> StrategySpec:
    return StrategySpec(exchange="NSE", symbol=symbol, buy_time=time(9, 20),
                        sell_time=time(15), stop_loss_type=StopLossType.PERCENT,
                        stop_loss_value=Decimal(1), quantity=1, broker=broker)


async def test_facts(sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
    async with sessions() as session, session.begin():
        alice = await users.create_user(session, email="a@example.com", password_hash="x")
        bob = await users.create_user(session, email="b@example.com", password_hash="x")
        credential = BrokerCredential(id=new_id("brk"), user_id=alice.id, broker_type="zerodha")
        session.add(credential)
    await redis.set("ltp:NSE:RELIANCE", 250_005)

    async with sessions() as session:
        paper = await facts_for(session, redis, alice.id, _spec())
        assert paper.instrument_known
        assert paper.broker_owned
        assert paper.last_price == Decimal("2500.05")

        unknown = await facts_for(session, redis, alice.id, _spec("NOSUCHCO"))
        assert not unknown.instrument_known
        assert unknown.last_price is None

        own = await facts_for(session, redis, alice.id, _spec(broker=credential.id))
        assert own.broker_owned
        # Bob cannot trade on Alice's broker account: to him it does not exist.
        foreign = await facts_for(session, redis, bob.id, _spec(broker=credential.id))
        assert not foreign.broker_owned
