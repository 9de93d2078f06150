"""Forgotten passwords: single-use, hashed, 30-minute tokens delivered by mail (ACC-5)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import error_codes
from core.auth.authenticator import Authenticator
from core.auth.tokens import token_hash
from core.clock import Clock
from core.errors import Unavailable, ValidationFailed
from core.mail import Mail, Mailer
from core.repos import password_resets, refresh_tokens, users
from core.security.passwords import hash_password_async

log = logging.getLogger("algo.auth.reset")


class PasswordResets:
    """Requests and completes password resets."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], mailer: Mailer, clock: Clock,
                 ttl_s: int, bcrypt_rounds: int, authenticator: Authenticator) -> None:
        self._sessions = sessions
        self._auth = authenticator
        self._mailer = mailer
        self._clock = clock
        self._ttl_s = ttl_s
        self._rounds = bcrypt_rounds
        self._pending: set[asyncio.Task[None]] = set()

    def request(self, email: str, ip: str | None) -> None:
        """Start a reset in the background: the caller answers the same, known e-mail or not."""
        task = asyncio.create_task(self._request(email, ip))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for background requests (at shutdown, and in tests)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _request(self, email: str, ip: str | None) -> None:
        try:
            token = secrets.token_urlsafe(32)
            now = self._clock.now()
            async with self._sessions() as session, session.begin():
                user = await users.get_user_by_email(session, email)
                if user is None or user.deleted_at is not None or not user.is_active:
                    return
                await password_resets.expire_open(session, user.id, now)
                await password_resets.add(session, user_id=user.id, token_hash=token_hash(token),
                                          expires_at=now + timedelta(seconds=self._ttl_s), ip=ip)
                address = user.email
            minutes = self._ttl_s // 60
            await self._mailer.send(Mail(
                to=address, subject="Reset your password",
                body=(f"Use this token to choose a new password within {minutes} minutes "
                      f"(POST /auth/reset-password):\n\n{token}\n\n"
                      "If you did not ask for this, ignore this message.")))
        except Exception:
            log.exception("password reset request failed")

    async def complete(self, token: str, new_password: str) -> str:
        """Set the new password; every session of the user ends. Returns the user id."""
        password_hash = await hash_password_async(new_password, self._rounds)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            reset = await password_resets.consume(session, token_hash(token), now)
            if reset is None:
                raise ValidationFailed(code=error_codes.AUTH_RESET_INVALID)
            await users.lock_for_update(session, reset.user_id)
            user = await users.get_user(session, reset.user_id)
            if user is None or not user.is_active:
                raise ValidationFailed(code=error_codes.AUTH_RESET_INVALID)
            await users.set_password(session, user.id, password_hash, now)
            ended = await refresh_tokens.revoke_all_for_user(session, user.id, now=now,
                                                             reason="password_reset")
            # Before the commit: a Redis failure leaves the reset link unused for a retry.
            await self._auth.revoke_sessions(ended)
        # Every session is refused already; the epoch only refreshes cached views.
        with contextlib.suppress(Unavailable):
            await self._auth.account_changed(reset.user_id)
        return reset.user_id
