"""Broker connection use cases: connect, finish a browser login, validate, disconnect,
status (BRK-8). The broker-specific part is a `Connector` (core/connections/connector.py).

Secrets are sealed before they reach the database and leave this module only towards the
broker; views, audit details, errors and log lines carry ids, broker types, account ids and
expiry times, never a secret or token. Every change is audited in its own transaction.

Disconnect policy: refused (BRK_005) while a strategy on the connection is RUNNING or holds
an open position, (BRK_012) while an order on it is still being settled with the broker
(OPEN/UNKNOWN: the executor reconciles it with this session), and (BRK_011) for the
connection that streams the platform's market data (`ALGO_FEED_BROKER_CREDENTIAL`).

Account binding: a connection that has logged in once belongs to that broker account; a
later login (reconnect, daily login, OAuth callback) for another account is refused
(BRK_010), so a strategy's exit or an order looked up by its tag never goes to an account
other than the one its entry went to. An OAuth callback finishes only for the user who
started the login (the pending login's user must be the authenticated caller).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import error_codes
from core.clock import Clock
from core.connections import vault
from core.connections.connector import Connector, Login
from core.connections.errors import (
    CredentialsRejected,
    LoginFailed,
    LoginLinkInvalid,
    LoginRequired,
)
from core.connections.health import Health, HealthStore
from core.connections.logins import PendingLogin, PendingLogins
from core.connections.model import Reason, State, only_expired
from core.connections.probe import Prober
from core.connections.renewal import RenewalReport, Renewer
from core.connections.views import (
    ConnectionStatus,
    ConnectionView,
    ConnectOutcome,
    Validation,
    view_of,
)
from core.crypto import SecretBox, SecretUnreadable
from core.db.enums import BrokerType, Position, StrategyStatus
from core.db.models import BrokerCredential
from core.errors import Conflict, NotFound, ValidationFailed
from core.ids import new_id
from core.repos import audit
from core.repos import broker_credentials as repo
from core.repos import orders as orders_repo
from core.repos import strategies as strategies_repo
from core.repos.audit import Actor

log = logging.getLogger("algo.connections")
TARGET = "broker_credential"


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What the user sends to connect (or reconnect) an account, or to validate one."""

    broker_type: str
    secrets: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    """The code of the broker's redirect (Kite request_token), if the client holds it."""
    label: str | None = None
    credential_id: str | None = None
    """Reconnect this connection (its stored secrets fill in what is not sent)."""


class ConnectionService:
    """Every change to a broker connection goes through here."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis,
                 box: SecretBox, connectors: Mapping[str, Connector], clock: Clock, *,
                 login_ttl_s: int = 600, check_timeout_s: float = 10.0,
                 feed_credential_id: str | None = None) -> None:
        self._sessions = sessions
        self._box = box
        self._connectors = connectors
        self._clock = clock
        self._feed_credential_id = feed_credential_id
        self._logins = PendingLogins(redis, login_ttl_s)
        self._health = HealthStore(redis)
        self.prober = Prober(sessions, box, connectors, self._health, clock,
                             timeout_s=check_timeout_s)
        self.renewer = Renewer(sessions, box, connectors, clock, timeout_s=check_timeout_s)

    def connector(self, broker_type: str) -> Connector:
        """The connector of `broker_type`; BRK_001 for paper or an unknown type."""
        if broker_type == BrokerType.PAPER:
            raise ValidationFailed("Paper trading needs no broker connection: use `paper` as "
                                   "a strategy's broker_credential_id",
                                   code=error_codes.BRK_UNSUPPORTED)
        found = self._connectors.get(broker_type)
        if found is None:
            raise ValidationFailed(code=error_codes.BRK_UNSUPPORTED,
                                   details={"available": sorted(self._connectors)})
        return found

    # ---- connect and log in ------------------------------------------------------------

    async def connect(self, actor: Actor, request: ConnectRequest) -> ConnectOutcome:
        """Log the account in and store it; or store it pending and return the broker's
        login URL when the broker needs the user's browser."""
        connector = self.connector(request.broker_type)
        secrets = {**await self._stored_secrets(actor, request), **request.secrets}
        _require(connector, secrets)
        try:
            login = await connector.login(secrets, request.code)
        except LoginRequired:
            return await self._pending(actor, connector, request, secrets)
        view, created = await self._store(actor, request.broker_type, request.credential_id,
                                          request.label, secrets, login, "broker.connect")
        return ConnectOutcome(view, None, created)

    async def complete_login(self, broker_type: str, params: Mapping[str, str],
                             actor: Actor) -> ConnectionView:
        """The broker redirected the user back with a code: exchange it, store the session.
        `actor` is the authenticated caller: the `state` finishes only the login this user
        started, so a login link sent to someone else cannot put their broker session on
        this user's connection (nor the reverse)."""
        connector = self.connector(broker_type)
        pending = await self._logins.consume(params.get("state", ""), broker_type,
                                             user_id=actor.user_id or "")
        code = connector.redirect_code(params)
        async with self._sessions() as session:
            row = await repo.get_owned(session, pending.user_id, pending.credential_id)
        if row is None:
            raise LoginLinkInvalid("The connection of this login was disconnected")
        secrets = self._open(row)
        try:
            login = await connector.login(secrets, code)
        except LoginRequired as exc:
            raise LoginFailed() from exc
        view, _ = await self._store(actor, broker_type, row.id, None, secrets, login,
                                    "broker.login")
        return view

    async def _stored_secrets(self, actor: Actor, request: ConnectRequest) -> dict[str, str]:
        if request.credential_id is None:
            return {}
        row = await self._owned(actor.user_id, request.credential_id)
        if row.broker_type != request.broker_type:
            raise NotFound(code=error_codes.BRK_NOT_FOUND)
        return self._open(row, missing_ok=True)

    async def _pending(self, actor: Actor, connector: Connector, request: ConnectRequest,
                       secrets: dict[str, str]) -> ConnectOutcome:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            if request.credential_id is not None:
                row = await self._locked(session, actor, request.credential_id)
                if request.secrets:  # new app secrets; the current session stays usable
                    vault.seal(self._box, row, secrets, self._token(row))
                    row.updated_at = now
            else:
                row = BrokerCredential(id=new_id("brk"), user_id=actor.user_id,
                                       broker_type=request.broker_type, is_valid=False,
                                       status_reason=Reason.PENDING_LOGIN.value,
                                       created_at=now, updated_at=now)
                vault.seal(self._box, row, secrets, None)
                session.add(row)
            if request.label:
                row.label = request.label
            await session.flush()
            await audit.record(session, actor, "broker.connect", target_type=TARGET,
                               target_id=row.id, details={
                                   "broker_type": row.broker_type, "login": "pending"})
            view = view_of(row, now)
        state = await self._logins.issue(PendingLogin(
            user_id=row.user_id, credential_id=row.id, broker_type=row.broker_type))
        url = connector.login_url(secrets, state)
        if url is None:
            raise RuntimeError(f"{connector.broker_type} asked for a login but has no URL")
        return ConnectOutcome(view, url, request.credential_id is None)

    async def _store(self, actor: Actor, broker_type: str, credential_id: str | None,
                     label: str | None, secrets: dict[str, str], login: Login,
                     action: str) -> tuple[ConnectionView, bool]:
        now = self._clock.now()
        try:
            async with self._sessions() as session, session.begin():
                row = (await self._locked(session, actor, credential_id)
                       if credential_id is not None else None)
                if row is not None and row.client_id and row.client_id != login.account_id:
                    log.warning("login for another broker account refused", extra={
                        "credential_id": row.id, "broker_type": broker_type,
                        "account_id": row.client_id, "login_account_id": login.account_id})
                    raise Conflict(code=error_codes.BRK_OTHER_ACCOUNT, details={
                        "connection_id": row.id, "account_id": row.client_id,
                        "login_account_id": login.account_id})
                twin = await repo.find_account(session, actor.user_id or "", broker_type,
                                               login.account_id)
                if twin is not None and row is None:
                    row = twin  # the same account again: reconnect it
                elif twin is not None and row is not None and twin.id != row.id:
                    raise Conflict(code=error_codes.BRK_ACCOUNT_TAKEN,
                                   details={"connection_id": twin.id})
                created = row is None
                if row is None:
                    row = BrokerCredential(id=new_id("brk"), user_id=actor.user_id,
                                           broker_type=broker_type, created_at=now)
                    session.add(row)
                if label:
                    row.label = label
                row.client_id = login.account_id
                vault.seal(self._box, row, {**secrets, **login.extra}, login.access_token)
                row.token_expires_at = login.expires_at
                row.is_valid, row.status_reason = True, None
                row.last_validated_at = row.updated_at = now
                await session.flush()
                await audit.record(session, actor, action, target_type=TARGET,
                                   target_id=row.id, details={
                                       "broker_type": broker_type,
                                       "account_id": login.account_id,
                                       "token_expires_at": login.expires_at.isoformat()})
                view = view_of(row, now)
        except IntegrityError as exc:  # a concurrent login connected the account first
            raise Conflict(code=error_codes.BRK_ACCOUNT_TAKEN) from exc
        with contextlib.suppress(RedisError):
            await self._health.put(view.id, Health(reachable=True, checked_at=now.timestamp()))
        log.info("broker connected", extra={"credential_id": view.id, "broker_type": broker_type,
                                            "token_expires_at": str(login.expires_at)})
        return view, created

    # ---- validate, disconnect, status ---------------------------------------------------

    async def validate(self, user_id: str, request: ConnectRequest) -> Validation:
        """Test credentials (or a stored connection's session) with the broker; stores
        nothing. An unreachable broker is an error (BRK_004), not a verdict."""
        connector = self.connector(request.broker_type)
        kind = request.broker_type
        try:
            if request.credential_id is not None and not request.secrets and not request.code:
                row = await self._owned(user_id, request.credential_id)
                if row.broker_type != request.broker_type:  # never send a token elsewhere
                    raise NotFound(code=error_codes.BRK_NOT_FOUND)
                token = self._token(row)
                if token is None:
                    return Validation(False, kind, error_code=error_codes.BRK_LOGIN_FAILED.code,
                                      message="No session yet: finish the broker login")
                account = await connector.check(self._open(row), token)
                return Validation(True, kind, account.account_id, account.name,
                                  row.token_expires_at)
            _require(connector, request.secrets)
            login = await connector.login(request.secrets, request.code)
        except LoginRequired:
            return Validation(False, kind, error_code=error_codes.BRK_LOGIN_FAILED.code,
                              message="This broker needs its browser login to be checked: "
                                      "send the code of its redirect, or an access token")
        except CredentialsRejected as exc:
            return Validation(False, kind, error_code=exc.code.code, message=exc.message)
        return Validation(True, kind, login.account_id, login.account_name, login.expires_at)

    async def disconnect(self, actor: Actor, credential_id: str) -> None:
        """Remove the connection and wipe its secrets; BRK_005 while it is in use, BRK_012
        while an order on it is unfinished, BRK_011 for the market-data connection."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, actor, credential_id)
            if credential_id == self._feed_credential_id:
                raise Conflict(code=error_codes.BRK_FEED_ACCOUNT)
            using = await strategies_repo.using_credential(session, credential_id)
            busy = [sid for sid, status, position in using
                    if status == StrategyStatus.RUNNING.value
                    or position == Position.BOUGHT.value]
            if busy:
                raise Conflict(code=error_codes.BRK_IN_USE, details={"strategies": busy})
            unfinished = await orders_repo.unfinished_on_credential(session, credential_id)
            if unfinished:
                raise Conflict(code=error_codes.BRK_UNFINISHED_ORDERS, details={
                    "orders": [oid for oid, _ in unfinished],
                    "strategies": sorted({sid for _, sid in unfinished})})
            vault.wipe(row)
            row.deleted_at = row.updated_at = now
            row.is_valid, row.status_reason = False, Reason.DISCONNECTED.value
            await audit.record(session, actor, "broker.disconnect", target_type=TARGET,
                               target_id=row.id, details={"broker_type": row.broker_type,
                                                          "account_id": row.client_id})
        with contextlib.suppress(RedisError):
            await self._health.drop(credential_id)

    async def status(self, user_id: str, *, check: bool = False) -> list[ConnectionStatus]:
        """Every connection of the user with its state, last probe and running strategies;
        `check` probes each session at its broker first."""
        async with self._sessions() as session:
            rows = await repo.list_live(session, user_id)
            running = await strategies_repo.running_per_credential(session, user_id)
        if check:
            now = self._clock.now()
            renewal = RenewalReport()  # what renews itself is logged in again first
            for row in rows:
                if only_expired(repo.state_of_row(row), now):
                    await self.renewer.renew(row, renewal)
            if renewal.renewed or renewal.refused:
                async with self._sessions() as session:
                    rows = await repo.list_live(session, user_id)
            await self.prober.probe([r for r in rows if view_of(r, now).state is State.CONNECTED])
            async with self._sessions() as session:
                rows = await repo.list_live(session, user_id)
        try:
            health = await self._health.get_many(r.id for r in rows)
        except RedisError:
            health = {}
        now = self._clock.now()
        return [ConnectionStatus(view_of(r, now), health.get(r.id), running.get(r.id, 0))
                for r in rows]

    # ---- helpers ------------------------------------------------------------------------

    async def _owned(self, user_id: str | None, credential_id: str) -> BrokerCredential:
        async with self._sessions() as session:
            row = await repo.get_owned(session, user_id or "", credential_id)
        if row is None:
            raise NotFound(code=error_codes.BRK_NOT_FOUND)
        return row

    async def _locked(self, session: AsyncSession, actor: Actor,
                      credential_id: str) -> BrokerCredential:
        row = await repo.get_owned_locked(session, actor.user_id or "", credential_id)
        if row is None:
            raise NotFound(code=error_codes.BRK_NOT_FOUND)
        return row

    def _open(self, row: BrokerCredential, *, missing_ok: bool = False) -> dict[str, str]:
        try:
            return vault.open_secrets(self._box, row)
        except SecretUnreadable as exc:
            if missing_ok:  # the user re-sends the secrets; they replace the lost ones
                return {}
            raise CredentialsRejected("The stored secrets of this connection cannot be "
                                      "read: connect it again with its secrets") from exc

    def _token(self, row: BrokerCredential) -> str | None:
        try:
            return vault.open_token(self._box, row)
        except SecretUnreadable:
            return None


def _require(connector: Connector, secrets: Mapping[str, str]) -> None:
    missing = [name for name in connector.required if not secrets.get(name)]
    if missing:
        raise ValidationFailed(code=error_codes.BRK_MISSING_FIELDS, details={"missing": missing})
