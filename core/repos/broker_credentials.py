"""Data access for `broker_credentials` (what strategies need; the broker feature adds more)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import BrokerCredential


async def get_owned(session: AsyncSession, user_id: str,
                    credential_id: str) -> BrokerCredential | None:
    """The user's live credential with this id; another user's is None, as if absent."""
    result = await session.execute(select(BrokerCredential).where(
        BrokerCredential.id == credential_id, BrokerCredential.user_id == user_id,
        BrokerCredential.deleted_at.is_(None)))
    return result.scalar_one_or_none()


async def owned_ids(session: AsyncSession, user_id: str, credential_ids: list[str]) -> set[str]:
    """Which of these credential ids are the user's live credentials."""
    if not credential_ids:
        return set()
    result = await session.execute(select(BrokerCredential.id).where(
        BrokerCredential.id.in_(credential_ids), BrokerCredential.user_id == user_id,
        BrokerCredential.deleted_at.is_(None)))
    return set(result.scalars())


async def usable_for_user(session: AsyncSession, user_id: str) -> list[BrokerCredential]:
    """The user's valid, not deleted broker connections, oldest first."""
    return list((await session.execute(
        select(BrokerCredential).where(BrokerCredential.user_id == user_id,
                                       BrokerCredential.is_valid.is_(True),
                                       BrokerCredential.deleted_at.is_(None))
        .order_by(BrokerCredential.created_at))).scalars())
