"""Data access for `users`."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import Role
from core.db.models import User
from core.ids import new_id


def normalize_email(email: str) -> str:
    """E-mail addresses are unique case-insensitively; we store them lower-cased."""
    return email.strip().lower()


async def create_user(session: AsyncSession, *, email: str, password_hash: str,
                      role: Role = Role.USER) -> User:
    """Insert a user (the caller commits)."""
    user = User(id=new_id("usr"), email=normalize_email(email), password_hash=password_hash,
                role=role.value, is_active=True)
    session.add(user)
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with this e-mail, deleted ones included."""
    result = await session.execute(select(User).where(User.email == normalize_email(email)))
    return result.scalar_one_or_none()


async def count_active_admins(session: AsyncSession) -> int:
    """How many admins can log in."""
    result = await session.execute(
        select(func.count()).select_from(User).where(
            User.role == Role.ADMIN.value, User.is_active.is_(True), User.deleted_at.is_(None)))
    return int(result.scalar_one())


async def count_users(session: AsyncSession) -> int:
    """How many users exist (deleted ones included)."""
    result = await session.execute(select(func.count()).select_from(User))
    return int(result.scalar_one())
