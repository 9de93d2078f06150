"""Access-token and stream-ticket verification; the denylist of tokens and sessions
ended early (ACC-4, LIVE-2). Every Redis failure here fails closed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from collections.abc import Iterable
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import error_codes, redis_keys
from core.auth.principal import Principal
from core.auth.tokens import Claims, TokenCodec, TokenType
from core.auth.view_cache import EPOCH_TTL_S, AuthGate, AuthViewCache, IpLimit, new_epoch
from core.clock import Clock
from core.db.engine import autocommit
from core.db.enums import Role
from core.errors import AuthenticationFailed, RateLimited, Unavailable
from core.ratelimit import Rate
from core.repos import users

VERIFIED_CAPACITY: Final = 20_000
"""Access tokens kept verified in memory (a few MB at most)."""


def _redis_down() -> Unavailable:
    # Without the denylist a logged-out token could still be used: refuse instead.
    return Unavailable("Authentication store unavailable", details={"component": "redis"})


class Authenticator:
    """Turns a bearer token or a stream ticket into a Principal, or refuses."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis,
                 codec: TokenCodec, clock: Clock, ticket_ttl_s: int,
                 user_rate: Rate | None = None) -> None:
        self._sessions = sessions
        self._redis = redis
        self._codec = codec
        self._clock = clock
        self._ticket_ttl_s = ticket_ttl_s
        self._gate = AuthGate(redis, user_rate)
        self._views = AuthViewCache()
        self._verified: dict[str, Claims] = {}

    def verify(self, token: str) -> Claims:
        """Check an access token's signature and claims (no I/O). A token verified before
        is taken from memory until it expires: the same string verifies the same way, and
        revocation is the denylist's business, checked on every request regardless."""
        claims = self._verified.get(token)
        if claims is not None and self._clock.now().timestamp() < claims.exp:
            return claims
        claims = self._codec.verify(token, TokenType.ACCESS)
        if len(self._verified) >= VERIFIED_CAPACITY:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    async def authenticate(self, token: str) -> Principal:
        """Verify an access token: signature, claims, denylists, the account's current state."""
        return await self.authenticate_claims(self.verify(token))

    async def authenticate_claims(self, claims: Claims, *,
                                  ip: IpLimit | None = None) -> Principal:
        """The rest of `authenticate` for claims `verify` accepted: denylists, the user's
        rate limit (429 past it, when the authenticator was given one) and the account."""
        try:
            passage = await self._gate.check(
                claims.sub, _denylist_keys(claims.jti, claims.fam), ip=ip)
        except RedisError as exc:
            raise _redis_down() from exc
        if not passage.limit.allowed and passage.refused_by == "ip":
            raise RateLimited(passage.limit.retry_after_s, code=error_codes.SYS_RATE_LIMITED)
        if passage.revoked:
            raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_REVOKED)
        if not passage.limit.allowed:
            raise RateLimited(passage.limit.retry_after_s, code=error_codes.SYS_RATE_LIMITED)
        user = await self._account(claims.sub, passage.epoch)
        return self._principal(user, claims.fam, claims)

    async def _account(self, user_id: str, epoch: str) -> users.AuthView | None:
        """The user's account view: reused under `epoch`, else read (and kept)."""
        user = self._views.get(user_id, epoch)
        if user is None:
            async with self._sessions() as session:
                await autocommit(session)
                user = await users.get_auth_view(session, user_id)
            if user is not None:
                self._views.put(user_id, epoch, user)
        return user

    async def account_changed(self, user_id: str) -> None:
        """After a commit that changed what authentication reads of a user (role, active,
        deleted, password, e-mail, last login): every process reads the account again.

        Sessions a change ends are revoked (`revoke_sessions`) *before* its commit, so a
        Redis failure rolls the change back and a retry finds the same work; the epoch can
        only be renewed after the commit (see view_cache), and a retry renews it again."""
        try:
            await self._redis.set(redis_keys.auth_epoch(user_id), new_epoch(), ex=EPOCH_TTL_S)
        except RedisError as exc:
            raise _redis_down() from exc

    async def _refuse_if_revoked(self, jti: str | None, session_id: str) -> None:
        try:
            revoked = await self._redis.exists(*_denylist_keys(jti, session_id))
        except RedisError as exc:
            raise _redis_down() from exc
        if revoked:
            raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_REVOKED)

    def _principal(self, user: users.AuthView | None, session_id: str,
                   claims: Claims | None) -> Principal:
        if user is None or user.deleted_at is not None:
            raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_REVOKED)
        if not user.is_active:
            raise AuthenticationFailed(code=error_codes.AUTH_ACCOUNT_DISABLED)
        if claims is not None and user.password_changed_at is not None \
                and claims.iat < int(user.password_changed_at.timestamp()):
            raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_REVOKED)
        return Principal(user_id=user.id, role=Role(user.role), email=user.email,
                         jti=claims.jti if claims else None, session_id=session_id,
                         expires_at=claims.exp if claims else None,
                         created_at=user.created_at, last_login_at=user.last_login_at)

    async def denylist(self, principal: Principal) -> None:
        """Refuse this access token from now until it would have expired anyway."""
        if principal.jti is None or principal.expires_at is None:
            return
        ttl = principal.expires_at - int(self._clock.now().timestamp()) + 60
        if ttl > 0:
            try:
                await self._redis.set(redis_keys.denylisted_jti(principal.jti), "1", ex=ttl)
            except RedisError as exc:
                raise _redis_down() from exc

    async def revoke_sessions(self, session_ids: Iterable[str]) -> None:
        """Refuse every access token of these sessions (their refresh tokens are revoked in
        the database by the caller) for as long as any of them could still be valid."""
        ids = list(session_ids)
        if not ids:
            return
        ttl = self._codec.ttl[TokenType.ACCESS] + 60
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in ids:
                    pipe.set(redis_keys.revoked_session(session_id), "1", ex=ttl)
                await pipe.execute()
        except RedisError as exc:
            raise _redis_down() from exc

    async def issue_ticket(self, principal: Principal) -> str:
        """A single-use ticket for SSE clients that cannot send headers."""
        ticket = secrets.token_urlsafe(32)
        # The ticket inherits the access token's identity and expiry: a stream opened with
        # it ends when that token is revoked or would have expired.
        value = json.dumps({"user_id": principal.user_id, "session_id": principal.session_id,
                            "jti": principal.jti, "exp": principal.expires_at})
        try:
            await self._redis.set(redis_keys.stream_ticket(_digest(ticket)), value,
                                  ex=self._ticket_ttl_s)
        except RedisError as exc:
            raise _redis_down() from exc
        return ticket

    async def redeem_ticket(self, ticket: str) -> Principal:
        """Consume a ticket (GETDEL: a second use finds nothing); its session must be live."""
        try:
            raw = await self._redis.getdel(redis_keys.stream_ticket(_digest(ticket)))
        except RedisError as exc:
            raise _redis_down() from exc
        if not raw:
            raise AuthenticationFailed(code=error_codes.AUTH_TICKET_INVALID)
        value = json.loads(raw)
        jti, exp = value.get("jti"), value.get("exp")
        if exp is not None and self._clock.now().timestamp() >= exp:
            raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_EXPIRED)
        await self._refuse_if_revoked(jti, value["session_id"])
        async with self._sessions() as session:
            user = await users.get_auth_view(session, value["user_id"])
        principal = self._principal(user, value["session_id"], None)
        return dataclasses.replace(principal, jti=jti, expires_at=exp)

    async def still_valid(self, principal: Principal) -> bool:
        """False once the principal's token or session has been revoked, or its account is
        no longer what it was (deactivated, deleted, another role): long-lived streams ask
        this now and then. A Redis or database failure counts as revoked (fail closed;
        the client reconnects and resumes by Last-Event-ID)."""
        try:
            passage = await self._gate.check(
                principal.user_id, _denylist_keys(principal.jti, principal.session_id),
                count=False)
            if passage.revoked:
                return False
            user = await self._account(principal.user_id, passage.epoch)
        except (RedisError, SQLAlchemyError, OSError):
            return False
        return (user is not None and user.deleted_at is None and user.is_active
                and user.role == principal.role.value)


def _denylist_keys(jti: str | None, session_id: str) -> list[str]:
    keys = [redis_keys.revoked_session(session_id)]
    if jti is not None:
        keys.append(redis_keys.denylisted_jti(jti))
    return keys


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
