"""End to end, Angel One only: the executor renews an expired SmartAPI session by itself
(client code + PIN + TOTP) and stores the new one. What every broker does with the executor
is in tests/test_broker_executor.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.crypto import SecretBox
from core.db.enums import OrderStatus
from core.db.models import BrokerCredential
from core.embedded.stack import Endpoints
from tests.fakes.angel.kit import AngelKit, angel_kit
from tests.order_kit import Kit, at, at_fake_broker, connected, one_buy


@pytest.fixture
async def angel() -> AsyncIterator[AngelKit]:
    """A running fake SmartAPI."""
    async with angel_kit() as running:
        yield running


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext, angel: AngelKit) -> Kit:
    """The order kit on a fake clock at 09:30 IST, its settings pointing at the fake."""
    return at_fake_broker(angel, endpoints, tmp_path, sessions, redis, nc, js)


async def test_an_expired_session_is_renewed_by_totp_and_stored(kit: Kit,
                                                                angel: AngelKit) -> None:
    book = angel.fake.book
    credential_id = await connected(kit, angel, "a@example.com")
    async with kit.sessions() as session, session.begin():
        row = await session.get(BrokerCredential, credential_id)
        assert row is not None
        row.token_expires_at = at(6, 0)  # died this morning
        old_token = row.encrypted_access_token
    buy, _ = await one_buy(kit, "a@example.com", credential_id)
    assert buy.status == OrderStatus.FILLED, buy.status_reason
    assert book.logins == 1
    async with kit.sessions() as session:
        row = await session.get(BrokerCredential, credential_id)
        assert row is not None
        assert row.encrypted_access_token != old_token
        assert row.token_expires_at is not None and row.token_expires_at > at(9, 30)
        box = SecretBox(kit.settings.encryption_key_map)
        assert box.open(row.encrypted_access_token or b"", owner=row.user_id) in book.jwts
