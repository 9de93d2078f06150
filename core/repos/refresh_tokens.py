"""Data access for `refresh_tokens`: one row per issued refresh token, grouped by family."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import RefreshToken


async def add(session: AsyncSession, *, jti: str, user_id: str, family_id: str, token_hash: str,
              expires_at: datetime, ip: str | None, user_agent: str | None) -> None:
    """Record a newly issued refresh token."""
    session.add(RefreshToken(id=jti, user_id=user_id, family_id=family_id, token_hash=token_hash,
                             expires_at=expires_at, ip=ip,
                             user_agent=user_agent[:256] if user_agent else None))
    await session.flush()


async def claim(session: AsyncSession, *, jti: str, user_id: str, token_hash: str,
                now: datetime) -> RefreshToken | None:
    """Mark the token used, atomically; None if it was already used, revoked or expired.

    Two concurrent refreshes with one token: exactly one wins, the other looks like reuse.
    """
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == jti, RefreshToken.user_id == user_id,
               RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None),
               RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
        .values(used_at=now)
        .returning(RefreshToken))
    return result.scalar_one_or_none()


async def get(session: AsyncSession, jti: str) -> RefreshToken | None:
    """A refresh token row by its jti."""
    return await session.get(RefreshToken, jti)


async def set_replaced_by(session: AsyncSession, jti: str, new_jti: str) -> None:
    """Link a used token to the one that replaced it."""
    await session.execute(update(RefreshToken).where(RefreshToken.id == jti)
                          .values(replaced_by=new_jti))


async def revoke_family(session: AsyncSession, *, user_id: str, family_id: str, now: datetime,
                        reason: str) -> int:
    """Revoke every live token of a family (one login); returns how many.

    Take `users.lock_for_update` first, as `refresh` does, so a rotation racing this
    revocation is either seen here or sees the revocation.
    """
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.family_id == family_id,
               RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


async def revoke_all_for_user(session: AsyncSession, user_id: str, *, now: datetime,
                              reason: str) -> list[str]:
    """Revoke every live refresh token of a user; returns the sessions (families) ended.

    Take `users.lock_for_update` first (see `revoke_family`).
    """
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(RefreshToken.family_id))
    return sorted(set(result.scalars()))


async def active_families(session: AsyncSession, user_id: str, now: datetime,
                          ) -> list[RefreshToken]:
    """The newest live token of each of the user's sessions (families), newest first."""
    newest = (
        select(RefreshToken.family_id, func.max(RefreshToken.created_at).label("latest"))
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None),
               RefreshToken.used_at.is_(None), RefreshToken.expires_at > now)
        .group_by(RefreshToken.family_id).subquery())
    result = await session.execute(
        select(RefreshToken)
        .join(newest, (RefreshToken.family_id == newest.c.family_id)
              & (RefreshToken.created_at == newest.c.latest))
        .where(RefreshToken.user_id == user_id)
        .order_by(RefreshToken.created_at.desc()))
    return list(result.scalars())
