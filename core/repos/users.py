"""Data access for `users`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import Role
from core.db.models import User
from core.ids import new_id


def normalize_email(email: str) -> str:
    """E-mail addresses are unique case-insensitively; we store them lower-cased."""
    return email.strip().lower()


async def create_user(session: AsyncSession, *, email: str, password_hash: str,
                      role: Role = Role.USER) -> User:
    """Insert a user (the caller commits); the unique index refuses a taken e-mail."""
    user = User(id=new_id("usr"), email=normalize_email(email), password_hash=password_hash,
                role=role.value, is_active=True)
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, user_id: str, *,
                   include_deleted: bool = False) -> User | None:
    """A user by id; deleted users only when asked."""
    user = await session.get(User, user_id)
    if user is None or (user.deleted_at is not None and not include_deleted):
        return None
    return user


@dataclass(frozen=True, slots=True)
class AuthView:
    """What authenticating a request needs to know of a user (a light row, no ORM object)."""

    id: str
    email: str
    role: str
    is_active: bool
    deleted_at: datetime | None
    password_changed_at: datetime | None
    created_at: datetime
    last_login_at: datetime | None


_AUTH_COLUMNS = (User.id, User.email, User.role, User.is_active, User.deleted_at,
                 User.password_changed_at, User.created_at, User.last_login_at)


async def get_auth_view(session: AsyncSession, user_id: str) -> AuthView | None:
    """The authentication-relevant columns of a user, deleted ones included."""
    row = (await session.execute(select(*_AUTH_COLUMNS).where(User.id == user_id))).first()
    return AuthView(*row) if row is not None else None


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


async def active_admin_ids(session: AsyncSession) -> list[str]:
    """The ids of every admin who can log in (recipients of platform alerts)."""
    result = await session.execute(
        select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True),
                              User.deleted_at.is_(None)).order_by(User.id))
    return list(result.scalars())


async def lock_for_update(session: AsyncSession, user_id: str) -> bool:
    """Lock the user's row until commit: token rotation and every revocation of the user's
    sessions take this lock, so none of them works on a stale view of the others."""
    result = await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    return result.first() is not None


async def lock_admin_set(session: AsyncSession) -> None:
    """Serialise changes that could leave no active admin (held until commit)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('algo.admins'))"))


async def count_users(session: AsyncSession) -> int:
    """How many users exist (deleted ones included)."""
    result = await session.execute(select(func.count()).select_from(User))
    return int(result.scalar_one())


async def record_login(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Set `last_login_at`."""
    await session.execute(update(User).where(User.id == user_id).values(last_login_at=now))


async def set_password(session: AsyncSession, user_id: str, password_hash: str,
                       now: datetime) -> None:
    """Replace the password hash; tokens issued before `now` stop working."""
    await session.execute(update(User).where(User.id == user_id)
                          .values(password_hash=password_hash, password_changed_at=now))


@dataclass(frozen=True, slots=True)
class UserFilter:
    """Admin list filters."""

    role: Role | None = None
    is_active: bool | None = None
    search: str | None = None
    include_deleted: bool = False


async def list_users(session: AsyncSession, flt: UserFilter, *, limit: int,
                     before_id: str | None) -> list[User]:
    """Users newest first, `limit` of them, starting after the cursor id (ids sort by time)."""
    query = select(User).order_by(User.id.desc()).limit(limit)
    if not flt.include_deleted:
        query = query.where(User.deleted_at.is_(None))
    if flt.role is not None:
        query = query.where(User.role == flt.role.value)
    if flt.is_active is not None:
        query = query.where(User.is_active.is_(flt.is_active))
    if flt.search:
        escaped = flt.search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(User.email.like(f"%{escaped}%", escape="\\"))
    if before_id is not None:
        query = query.where(User.id < before_id)
    result = await session.execute(query)
    return list(result.scalars())


async def update_user(session: AsyncSession, user_id: str, *, role: Role | None,
                      is_active: bool | None) -> None:
    """Change role and/or active flag."""
    values: dict[str, object] = {}
    if role is not None:
        values["role"] = role.value
    if is_active is not None:
        values["is_active"] = is_active
    if values:
        await session.execute(update(User).where(User.id == user_id).values(**values))


async def soft_delete(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Deactivate and mark deleted; the row stays for audit and order history."""
    await session.execute(update(User).where(User.id == user_id)
                          .values(is_active=False, deleted_at=now))
