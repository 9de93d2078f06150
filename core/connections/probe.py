"""Calling the broker with a stored session to learn whether it is usable right now.

A probe records its result in the HealthStore; a session the broker refuses is marked
invalid on its row (`rejected_by_broker`) so that status and the readiness gate agree.
Used by GET /broker/status?check=true and by the trigger's pre-BUY readiness check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Final

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.connections import vault
from core.connections.connector import Connector
from core.connections.errors import BrokerUnreachable, CredentialsRejected
from core.connections.health import Health, HealthStore
from core.connections.keys import key_missing
from core.connections.model import Reason
from core.crypto import SecretBox, SecretUnreadable, UnknownKey
from core.db.models import BrokerCredential
from core.errors import AlgoError

log = logging.getLogger("algo.connections")

CONCURRENCY: Final = 8


class Prober:
    """Probes connections with their broker's connector."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox,
                 connectors: Mapping[str, Connector], health: HealthStore, clock: Clock,
                 *, timeout_s: float = 10.0) -> None:
        self._sessions = sessions
        self._box = box
        self._connectors = connectors
        self._health = health
        self._clock = clock
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def probe(self, rows: Iterable[BrokerCredential]) -> dict[str, Health]:
        """Probe every row that has a session; returns (and records) each result. A row
        whose probe fails unexpectedly (a connector bug, an outage of our own stores) is
        logged and left out: it never costs the other rows their results."""
        todo = [r for r in rows if r.encrypted_access_token and r.broker_type in self._connectors]
        results = await asyncio.gather(*(self._one(row) for row in todo), return_exceptions=True)
        found: dict[str, Health] = {}
        for row, result in zip(todo, results, strict=True):
            if isinstance(result, Health):
                found[row.id] = result
            elif isinstance(result, Exception):
                log.error("broker probe failed", exc_info=result,
                          extra={"credential_id": row.id, "broker_type": row.broker_type})
            else:
                raise result  # a cancellation, or the process exiting
        return found

    async def _one(self, row: BrokerCredential) -> Health:
        connector = self._connectors[row.broker_type]
        async with self._slots:
            try:
                secrets = vault.open_secrets(self._box, row)
                token = vault.open_token(self._box, row) or ""
                await asyncio.wait_for(connector.check(secrets, token), self._timeout_s)
            except SecretUnreadable as exc:
                if isinstance(exc, UnknownKey):  # local configuration: never the row's fault
                    health = self._now(True, key_missing(row.id, exc.key_id))
                else:
                    health = self._now(True, "secrets do not decrypt")
                    await self._invalidate(row, Reason.UNREADABLE)
            except CredentialsRejected as exc:
                health = self._now(True, exc.message)
                await self._invalidate(row, Reason.REJECTED)
            except (BrokerUnreachable, TimeoutError) as exc:
                message = exc.message if isinstance(exc, AlgoError) else "timed out"
                health = self._now(False, message)
            else:
                health = self._now(True, None)
                await self._validated(row.id)
        await self._health.put(row.id, health)
        log.info("broker connection probed", extra={
            "credential_id": row.id, "broker_type": row.broker_type,
            "reachable": health.reachable, "reason": health.reason})
        return health

    def _now(self, reachable: bool, reason: str | None) -> Health:
        return Health(reachable=reachable, checked_at=self._clock.now().timestamp(),
                      reason=reason)

    async def _invalidate(self, row: BrokerCredential, reason: Reason) -> None:
        # Only the session that was probed: a login made meanwhile stays valid.
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            await session.execute(update(BrokerCredential).where(
                BrokerCredential.id == row.id, BrokerCredential.deleted_at.is_(None),
                BrokerCredential.encrypted_access_token == row.encrypted_access_token)
                .values(is_valid=False, status_reason=reason.value, updated_at=now))

    async def _validated(self, credential_id: str) -> None:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            await session.execute(update(BrokerCredential).where(
                BrokerCredential.id == credential_id).values(last_validated_at=now))
