"""What every pipeline service receives through its constructor (STYLE rule 7)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.settings import Settings


@dataclass(frozen=True)
class ServiceContext:
    """Shared collaborators of the services in one process."""

    nc: NatsClient
    js: JetStreamContext
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    clock: Clock
    settings: Settings
    instance: str
    """Unique per process, e.g. `host-pid`; names the heartbeat key."""
