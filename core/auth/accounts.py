"""Register, log in, rotate refresh tokens, log out, list and end sessions (ACC-1…ACC-4)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import error_codes
from core.auth.authenticator import Authenticator
from core.auth.principal import Principal
from core.auth.tokens import TokenCodec, TokenType, token_hash
from core.clock import Clock
from core.db.enums import Role
from core.db.models import RefreshToken, User
from core.errors import AuthenticationFailed, Conflict, NotFound
from core.ids import new_id
from core.repos import audit, refresh_tokens, users
from core.security.passwords import hash_password, hash_password_async, verify_password_async

log = logging.getLogger("algo.auth")


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

    @cached_property
    def _dummy_hash(self) -> str:
        # Checked against when the e-mail is unknown, so timing does not reveal accounts.
        return hash_password("not-a-real-password", self._rounds)

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
        """Check the password and open a new session (token family)."""
        async with self._sessions() as session:
            user = await users.get_user_by_email(session, email)
        if user is None or user.deleted_at is not None:
            await verify_password_async(password, self._dummy_hash)
            raise AuthenticationFailed(code=error_codes.AUTH_BAD_CREDENTIALS)
        if not await verify_password_async(password, user.password_hash):
            raise AuthenticationFailed(code=error_codes.AUTH_BAD_CREDENTIALS)
        if not user.is_active:
            raise AuthenticationFailed(code=error_codes.AUTH_ACCOUNT_DISABLED)
        async with self._sessions() as session, session.begin():
            pair = await self._issue(session, user, new_id("ses"), client)
            await users.record_login(session, user.id, self._now())
        return pair

    async def _issue(self, session: AsyncSession, user: User, family: str,
                     client: ClientInfo) -> TokenPair:
        access, access_claims = self._codec.issue(user_id=user.id, role=user.role,
                                                  typ=TokenType.ACCESS)
        refresh, refresh_claims = self._codec.issue(user_id=user.id, role=user.role,
                                                    typ=TokenType.REFRESH, family=family)
        await refresh_tokens.add(
            session, jti=refresh_claims.jti, user_id=user.id, family_id=family,
            token_hash=token_hash(refresh),
            expires_at=datetime.fromtimestamp(refresh_claims.exp, UTC),
            ip=client.ip, user_agent=client.user_agent)
        now = int(self._now().timestamp())
        return TokenPair(access, refresh, access_claims.exp - now, refresh_claims.exp - now,
                         user.id, user.email, Role(user.role))

    async def refresh(self, refresh_token: str, client: ClientInfo) -> TokenPair:
        """Rotate: the old refresh token dies, a new pair is issued in the same family.

        A token that was already used means it was stolen or replayed: the whole family
        is revoked and a security event recorded.
        """
        claims = self._codec.verify(refresh_token, TokenType.REFRESH)
        assert claims.fam is not None
        now = self._now()
        async with self._sessions() as session, session.begin():
            row = await refresh_tokens.claim(session, jti=claims.jti, user_id=claims.sub,
                                             token_hash=token_hash(refresh_token), now=now)
            if row is None:
                await self._refused_refresh(session, claims.jti, claims.sub, claims.fam, client)
            user = await users.get_user(session, claims.sub)
            if user is None or not user.is_active or (
                    user.password_changed_at is not None
                    and claims.iat < int(user.password_changed_at.timestamp())):
                raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_REVOKED)
            pair = await self._issue(session, user, claims.fam, client)
            new_claims = self._codec.verify(pair.refresh_token, TokenType.REFRESH)
            await refresh_tokens.set_replaced_by(session, claims.jti, new_claims.jti)
        return pair

    async def _refused_refresh(self, session: AsyncSession, jti: str, user_id: str, family: str,
                               client: ClientInfo) -> None:
        existing: RefreshToken | None = await refresh_tokens.get(session, jti)
        if existing is not None and existing.user_id == user_id and existing.used_at is not None:
            revoked = await refresh_tokens.revoke_family(
                session, user_id=user_id, family_id=family, now=self._now(), reason="reuse")
            await audit.record(session, audit.Actor(user_id, None, client.ip, client.user_agent),
                               "security.refresh_token_reuse", target_type="session",
                               target_id=family, details={"jti": jti, "revoked": revoked})
            await session.commit()
            log.warning("refresh token reuse: family revoked",
                        extra={"user_id": user_id, "family_id": family, "ip": client.ip})
            raise AuthenticationFailed(code=error_codes.AUTH_REFRESH_REUSED)
        if existing is not None and existing.expires_at <= self._now():
            raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_EXPIRED)
        raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_REVOKED)

    async def logout(self, principal: Principal, refresh_token: str | None) -> None:
        """Deny the access token and end the session the refresh token belongs to."""
        if refresh_token is not None:
            claims = self._codec.verify(refresh_token, TokenType.REFRESH)
            if claims.sub != principal.user_id:
                raise NotFound("Refresh token not found")
            assert claims.fam is not None
            async with self._sessions() as session, session.begin():
                await refresh_tokens.revoke_family(session, user_id=principal.user_id,
                                                   family_id=claims.fam, now=self._now(),
                                                   reason="logout")
        await self._auth.denylist(principal)

    async def sessions_of(self, user_id: str) -> list[RefreshToken]:
        """The user's open sessions, newest first."""
        async with self._sessions() as session:
            return await refresh_tokens.active_families(session, user_id, self._now())

    async def end_session(self, user_id: str, family_id: str) -> None:
        """Revoke one of the caller's sessions; another user's is 'not found'."""
        async with self._sessions() as session, session.begin():
            revoked = await refresh_tokens.revoke_family(
                session, user_id=user_id, family_id=family_id, now=self._now(), reason="ended")
        if revoked == 0:
            raise NotFound("Session not found")
