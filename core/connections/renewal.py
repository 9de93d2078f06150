"""Renewing the sessions a connector can make without the user (Angel One's and Dhan's
PIN + TOTP; `Connector.renewable`), so the daily token check and the readiness gate never
ask such a user to log in again.

A renewal is the login POST /broker/connect would make, stored the way
brokers/angel_one/registry.py `store` stores the adapter's own login: sealed, the row valid
again with the new expiry, audited (`broker.renew`). It never switches the connection to
another broker account (the login of another account is refused and logged, nothing is
stored). A broker that refuses the stored credentials marks the connection invalid
(`rejected_by_broker`), so its owner is told to connect it again; one that does not answer
leaves it as it was (the next check tries again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.connections import vault
from core.connections.connector import Connector, Login
from core.connections.errors import CredentialsRejected, LoginRequired
from core.connections.model import Reason
from core.crypto import SecretBox, SecretUnreadable
from core.db.models import BrokerCredential
from core.errors import AlgoError
from core.repos import audit
from core.repos import broker_credentials as repo
from core.repos.audit import Actor

log = logging.getLogger("algo.connections.renewal")


@dataclass
class RenewalReport:
    """What one renewal run did, by connection id."""

    renewed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """The broker refused the stored credentials (or it is another account): invalid now."""
    unreachable: list[str] = field(default_factory=list)
    """The broker did not answer: left as it was."""

    @property
    def renewable(self) -> set[str]:
        """Connections that renew themselves (renewed now, or to be renewed later)."""
        return {*self.renewed, *self.unreachable}


class Renewer:
    """Logs renewable connections in again and stores their new sessions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox,
                 connectors: Mapping[str, Connector], clock: Clock, *,
                 timeout_s: float = 10.0) -> None:
        self._sessions = sessions
        self._box = box
        self._connectors = connectors
        self._clock = clock
        self._timeout_s = timeout_s

    async def renew_due(self, deadline: datetime) -> RenewalReport:
        """Renew every live renewable connection whose session will be dead at `deadline`
        (expired by then, or marked expired)."""
        async with self._sessions() as session:
            rows = list((await session.execute(select(BrokerCredential).where(
                BrokerCredential.deleted_at.is_(None),
                BrokerCredential.broker_type.in_(sorted(self._connectors)),
                or_(BrokerCredential.token_expires_at <= deadline,
                    BrokerCredential.status_reason == Reason.TOKEN_EXPIRED.value))
                .order_by(BrokerCredential.id))).scalars())
        report = RenewalReport()
        for row in rows:
            await self.renew(row, report)
        return report

    async def renew(self, row: BrokerCredential, report: RenewalReport) -> None:
        """Renew one connection if its connector can; the outcome goes into `report`."""
        connector = self._connectors.get(row.broker_type)
        try:
            secrets = vault.open_secrets(self._box, row)
        except SecretUnreadable:
            return  # the token check's notice or a probe deals with it
        if connector is None or not connector.renewable(secrets):
            return
        try:
            login = await asyncio.wait_for(connector.login(secrets, None), self._timeout_s)
        except CredentialsRejected as exc:
            report.refused.append(row.id)
            await self._refused(row, exc.message)
            return
        except (AlgoError, LoginRequired, TimeoutError) as exc:
            report.unreachable.append(row.id)
            log.warning("broker session not renewed", extra={
                "credential_id": row.id, "broker_type": row.broker_type,
                "reason": exc.message if isinstance(exc, AlgoError) else type(exc).__name__})
            return
        if row.client_id and login.account_id != row.client_id:
            report.refused.append(row.id)
            await self._refused(row, f"the login is for account {login.account_id}")
            return
        if await self._store(row, secrets, login):
            report.renewed.append(row.id)

    async def _store(self, row: BrokerCredential, secrets: Mapping[str, str],
                     login: Login) -> bool:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            fresh = await repo.get_owned_locked(session, row.user_id, row.id)
            if fresh is None:
                return False  # disconnected meanwhile
            vault.seal(self._box, fresh, {**secrets, **login.extra}, login.access_token)
            fresh.client_id = fresh.client_id or login.account_id
            fresh.token_expires_at = login.expires_at
            fresh.is_valid, fresh.status_reason = True, None
            fresh.last_validated_at = fresh.updated_at = now
            await audit.record(session, Actor(row.user_id, None), "broker.renew",
                               target_type="broker_credential", target_id=row.id, details={
                                   "broker_type": row.broker_type,
                                   "account_id": login.account_id,
                                   "token_expires_at": login.expires_at.isoformat()})
        log.info("broker session renewed", extra={
            "credential_id": row.id, "broker_type": row.broker_type,
            "token_expires_at": str(login.expires_at)})
        return True

    async def _refused(self, row: BrokerCredential, why: str) -> None:
        # Only the session that was tried: a login made meanwhile stays valid.
        log.warning("broker refused the renewal of a session", extra={
            "credential_id": row.id, "broker_type": row.broker_type, "reason": why})
        async with self._sessions() as session, session.begin():
            await session.execute(update(BrokerCredential).where(
                BrokerCredential.id == row.id, BrokerCredential.deleted_at.is_(None),
                BrokerCredential.encrypted_access_token.is_not_distinct_from(
                    row.encrypted_access_token))
                .values(is_valid=False, status_reason=Reason.REJECTED.value,
                        updated_at=self._clock.now()))
