"""Register, log in, rotate refresh tokens, log out, list and end sessions (ACC-1…ACC-4)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import error_codes
from core.auth.authenticator import Authenticator
from core.auth.principal import Principal
from core.auth.tokens import Claims, TokenCodec, TokenType, token_hash
from core.clock import Clock
from core.db.enums import Role
from core.db.models import RefreshToken, User
from core.errors import AuthenticationFailed, Conflict, NotFound, Unavailable
from core.ids import new_id
from core.repos import audit, refresh_tokens, users
from core.security.passwords import hash_password, hash_password_async, verify_password_async

log = logging.getLogger("algo.auth")

REUSE_GRACE: Final = timedelta(seconds=5)
"""A refresh token presented again this soon after its rotation is a client race (two tabs,
a retried request), refused without ending the session; later it is treated as theft."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or a refresh returns."""

    access_token: str
    refresh_token: str
    access_expires_in: int
    refresh_expires_in: int
    user_id: str
    email: str
    role: Role


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, kept with sessions and audit rows."""

    ip: str | None
    user_agent: str | None


class Accounts:
    """The account lifecycle; every write is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], codec: TokenCodec,
                 authenticator: Authenticator, clock: Clock, bcrypt_rounds: int) -> None:
        self._sessions = sessions
        self._codec = codec
        self._auth = authenticator
        self._clock = clock
        self._rounds = bcrypt_rounds
        self._dummy_hash: str | None = None

    async def prepare(self) -> None:
        """Compute the decoy hash off the event loop (at start-up)."""
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(
                hash_password, "not-a-real-password", self._rounds)

    def _now(self) -> datetime:
        return self._clock.now()

    async def register(self, email: str, password: str) -> User:
        """Create a user account (role user)."""
        password_hash = await hash_password_async(password, self._rounds)
        try:
            async with self._sessions() as session, session.begin():
                return await users.create_user(session, email=email, password_hash=password_hash)
        except IntegrityError as exc:
            raise Conflict(code=error_codes.AUTH_EMAIL_TAKEN) from exc

    async def login(self, email: str, password: str, client: ClientInfo) -> TokenPair:
        """Check the password and open a new session (token family).

        An unknown e-mail costs a bcrypt check too, so timing does not reveal accounts.
        """
        async with self._sessions() as session:
            user = await users.get_user_by_email(session, email)
        if user is None or user.deleted_at is not None:
            await self.prepare()
            assert self._dummy_hash is not None
            await verify_password_async(password, self._dummy_hash)
            raise AuthenticationFailed(code=error_codes.AUTH_BAD_CREDENTIALS)
        if not await verify_password_async(password, user.password_hash):
            raise AuthenticationFailed(code=error_codes.AUTH_BAD_CREDENTIALS)
        if not user.is_active:
            raise AuthenticationFailed(code=error_codes.AUTH_ACCOUNT_DISABLED)
        async with self._sessions() as session, session.begin():
            pair, _ = await self._issue(session, user, new_id("ses"), client)
            await users.record_login(session, user.id, self._now())
        # Only `last_login_at` changed: a view reused a little longer misleads nobody.
        with contextlib.suppress(Unavailable):
            await self._auth.account_changed(user.id)
        return pair

    async def _issue(self, session: AsyncSession, user: User, family: str,
                     client: ClientInfo) -> tuple[TokenPair, Claims]:
        access, access_claims = self._codec.issue(user_id=user.id, role=user.role,
                                                  typ=TokenType.ACCESS, family=family)
        refresh, refresh_claims = self._codec.issue(user_id=user.id, role=user.role,
                                                    typ=TokenType.REFRESH, family=family)
        await refresh_tokens.add(
            session, jti=refresh_claims.jti, user_id=user.id, family_id=family,
            token_hash=token_hash(refresh),
            expires_at=datetime.fromtimestamp(refresh_claims.exp, UTC),
            ip=client.ip, user_agent=client.user_agent)
        now = int(self._now().timestamp())
        pair = TokenPair(access, refresh, access_claims.exp - now, refresh_claims.exp - now,
                         user.id, user.email, Role(user.role))
        return pair, refresh_claims

    async def refresh(self, refresh_token: str, client: ClientInfo) -> TokenPair:
        """Rotate: the old refresh token dies, a new pair is issued in the same family.

        A token used again after the grace period means it was stolen or replayed: the
        whole family is revoked and a security event recorded.
        """
        claims = self._codec.verify(refresh_token, TokenType.REFRESH)
        now = self._now()
        async with self._sessions() as session, session.begin():
            # Serialises with logout, reset and admin revocations of this user's sessions.
            await users.lock_for_update(session, claims.sub)
            row = await refresh_tokens.claim(session, jti=claims.jti, user_id=claims.sub,
                                             token_hash=token_hash(refresh_token), now=now)
            if row is not None:
                user = await users.get_user(session, claims.sub)
                if user is None or not user.is_active or (
                        user.password_changed_at is not None
                        and claims.iat < int(user.password_changed_at.timestamp())):
                    raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_REVOKED)
                pair, new_claims = await self._issue(session, user, claims.fam, client)
                await refresh_tokens.set_replaced_by(session, claims.jti, new_claims.jti)
                return pair
            existing = await refresh_tokens.get(session, claims.jti)
            replayed = self._is_replay(existing, claims.sub, now)
            if replayed:
                await self._revoke_replayed(session, claims, client)
                # Before the commit: should Redis fail, the family stays live in the
                # database too, and the next replay revokes it again.
                await self._auth.revoke_sessions([claims.fam])
        if replayed:
            raise AuthenticationFailed(code=error_codes.AUTH_REFRESH_REUSED)
        if existing is not None and existing.expires_at <= now:
            raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_EXPIRED)
        raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_REVOKED)

    @staticmethod
    def _is_replay(existing: RefreshToken | None, user_id: str, now: datetime) -> bool:
        """A rotated token of a live session, presented again after the grace period."""
        return (existing is not None and existing.user_id == user_id
                and existing.used_at is not None and existing.revoked_at is None
                and now - existing.used_at > REUSE_GRACE)

    async def _revoke_replayed(self, session: AsyncSession, claims: Claims,
                               client: ClientInfo) -> None:
        revoked = await refresh_tokens.revoke_family(
            session, user_id=claims.sub, family_id=claims.fam, now=self._now(), reason="reuse")
        await audit.record(session, audit.Actor(claims.sub, None, client.ip, client.user_agent),
                           "security.refresh_token_reuse", target_type="session",
                           target_id=claims.fam, details={"jti": claims.jti, "revoked": revoked})
        log.warning("refresh token reuse: session revoked",
                    extra={"user_id": claims.sub, "family_id": claims.fam, "ip": client.ip})

    async def logout(self, principal: Principal, refresh_token: str | None) -> None:
        """Deny the access token and end its session (and the refresh token's, if given)."""
        await self._auth.denylist(principal)
        families = [principal.session_id]
        if refresh_token is not None:
            claims = self._codec.verify(refresh_token, TokenType.REFRESH)
            if claims.sub != principal.user_id:
                raise NotFound("Refresh token not found")
            families.append(claims.fam)
        await self._end(principal.user_id, families, "logout")

    async def _end(self, user_id: str, families: list[str], reason: str) -> int:
        revoked = 0
        async with self._sessions() as session, session.begin():
            await users.lock_for_update(session, user_id)
            for family in dict.fromkeys(families):
                revoked += await refresh_tokens.revoke_family(
                    session, user_id=user_id, family_id=family, now=self._now(), reason=reason)
        await self._auth.revoke_sessions(families)
        return revoked

    async def sessions_of(self, user_id: str) -> list[RefreshToken]:
        """The user's open sessions, newest first."""
        async with self._sessions() as session:
            return await refresh_tokens.active_families(session, user_id, self._now())

    async def end_session(self, user_id: str, family_id: str) -> None:
        """Revoke one of the caller's sessions; another user's is 'not found'."""
        async with self._sessions() as session:
            live = {row.family_id for row in
                    await refresh_tokens.active_families(session, user_id, self._now())}
        if family_id not in live:
            raise NotFound("Session not found")
        await self._end(user_id, [family_id], "ended")
