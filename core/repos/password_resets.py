"""Data access for `password_resets`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import PasswordReset
from core.ids import new_id


async def add(session: AsyncSession, *, user_id: str, token_hash: str, expires_at: datetime,
              ip: str | None) -> None:
    """Record a reset request (only the token's hash)."""
    session.add(PasswordReset(id=new_id("pwr"), user_id=user_id, token_hash=token_hash,
                              expires_at=expires_at, ip=ip))
    await session.flush()


async def consume(session: AsyncSession, token_hash: str, now: datetime) -> PasswordReset | None:
    """Use a live reset token, atomically; None if unknown, used or expired."""
    result = await session.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == token_hash, PasswordReset.used_at.is_(None),
               PasswordReset.expires_at > now)
        .values(used_at=now)
        .returning(PasswordReset))
    return result.scalar_one_or_none()


async def expire_open(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Invalidate a user's other outstanding reset tokens."""
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now))
