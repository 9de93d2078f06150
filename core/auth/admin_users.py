"""Admin user management (ADM-1): every action is audited in its own transaction."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Final, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import error_codes
from core.auth.authenticator import Authenticator
from core.clock import Clock
from core.db.enums import Role
from core.db.models import User
from core.errors import Conflict, NotFound, Unavailable
from core.repos import audit, refresh_tokens, strategies, users
from core.repos.audit import Actor
from core.security.passwords import hash_password_async
from core.strategies.service import StrategyService


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED
"""An update argument left as it is (None is a value: it clears a limit)."""


@dataclass(frozen=True, slots=True)
class UserDetail:
    """A user as an admin sees it."""

    user: User
    strategy_count: int


@dataclass(frozen=True, slots=True)
class UserPage:
    """One page of users and the cursor of the next."""

    items: list[User]
    next_cursor: str | None


class AdminUsers:
    """List, inspect, create, change and delete users on an admin's behalf."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 bcrypt_rounds: int, authenticator: Authenticator,
                 strategies: StrategyService) -> None:
        self._sessions = sessions
        self._auth = authenticator
        self._strategies = strategies
        self._clock = clock
        self._rounds = bcrypt_rounds

    async def page(self, actor: Actor, flt: users.UserFilter, *, limit: int,
                   cursor: str | None) -> UserPage:
        """Newest first; `cursor` is the last id of the previous page."""
        async with self._sessions() as session, session.begin():
            rows = await users.list_users(session, flt, limit=limit + 1, before_id=cursor)
            await audit.record(session, actor, "admin.users.list", details={
                "role": flt.role, "is_active": flt.is_active, "search": flt.search,
                "cursor": cursor})
        more = len(rows) > limit
        rows = rows[:limit]
        return UserPage(rows, rows[-1].id if more and rows else None)

    async def detail(self, actor: Actor, user_id: str) -> UserDetail:
        """One user with their strategy count."""
        async with self._sessions() as session, session.begin():
            user = await users.get_user(session, user_id)
            if user is None:
                raise NotFound("User not found")
            count = await strategies.count_for_user(session, user_id)
            await audit.record(session, actor, "admin.users.view", target_type="user",
                               target_id=user_id)
        return UserDetail(user, count)

    async def create(self, actor: Actor, *, email: str, password: str, role: Role) -> User:
        """A new user with the given role."""
        password_hash = await hash_password_async(password, self._rounds)
        try:
            async with self._sessions() as session, session.begin():
                user = await users.create_user(session, email=email,
                                               password_hash=password_hash, role=role)
                await audit.record(session, actor, "admin.users.create", target_type="user",
                                   target_id=user.id,
                                   details={"email": user.email, "role": role.value})
        except IntegrityError as exc:
            raise Conflict(code=error_codes.AUTH_EMAIL_TAKEN) from exc
        return user

    async def update(self, actor: Actor, user_id: str, *, role: Role | None,
                     is_active: bool | None,
                     max_daily_loss: Decimal | Literal[_Unchanged.UNCHANGED] | None = UNCHANGED,
                     ) -> UserDetail:
        """Change role, active flag and/or max daily loss (None clears it); the last active
        admin cannot lose their role or active flag."""
        ended: list[str] = []
        async with self._sessions() as session, session.begin():
            user = await self._locked(session, user_id)
            before: dict[str, object] = {"role": user.role, "is_active": user.is_active}
            if max_daily_loss is not UNCHANGED:
                # Money goes to the audit log as exact text: a JSON number reads back as a float.
                before["max_daily_loss"] = _text(user.max_daily_loss)
            loses_admin = user.role == Role.ADMIN.value and user.is_active and (
                (role is not None and role is not Role.ADMIN) or is_active is False)
            if loses_admin:
                await self._keep_an_admin(session)
            if max_daily_loss is not UNCHANGED:
                user.max_daily_loss = max_daily_loss
                await session.flush()
            await users.update_user(session, user_id, role=role, is_active=is_active)
            if is_active is False:
                ended = await refresh_tokens.revoke_all_for_user(
                    session, user_id, now=self._clock.now(), reason="deactivated")
                # Before the commit: if Redis cannot take it, nothing changes and the
                # admin's retry finds the same sessions to end.
                await self._auth.revoke_sessions(ended)
            await session.refresh(user)
            after: dict[str, object] = {"role": user.role, "is_active": user.is_active}
            if max_daily_loss is not UNCHANGED:
                after["max_daily_loss"] = _text(user.max_daily_loss)
            await audit.record(session, actor, "admin.users.update", target_type="user",
                               target_id=user_id, details={"before": before, "after": after})
            count = await strategies.count_for_user(session, user_id)
        await self._auth.account_changed(user_id)
        return UserDetail(user, count)

    async def delete(self, actor: Actor, user_id: str) -> list[str]:
        """Soft delete: no more access, sessions revoked, running strategies stopped."""
        now: datetime = self._clock.now()
        async with self._sessions() as session, session.begin():
            user = await self._locked(session, user_id)
            if user.role == Role.ADMIN.value and user.is_active:
                await self._keep_an_admin(session)
            await users.soft_delete(session, user_id, now)
            ended = await refresh_tokens.revoke_all_for_user(session, user_id, now=now,
                                                             reason="deleted")
            await self._auth.revoke_sessions(ended)  # before the commit, as in `update`
            stopped = await strategies.stop_all_for_user(session, user_id, now=now,
                                                         reason="user deleted by admin")
            await audit.record(session, actor, "admin.users.delete", target_type="user",
                               target_id=user_id, details={
                                   "email": user.email,
                                   "stopped_strategies": [sid for sid, _ in stopped]})
        # Every session is refused already: a view reused a little longer changes nothing,
        # and the strategies must leave the runtime whatever Redis said to the epoch.
        with contextlib.suppress(Unavailable):
            await self._auth.account_changed(user_id)
        await self._strategies.disarm_stopped(user_id, stopped, "user deleted by admin")
        return [sid for sid, _ in stopped]

    async def _locked(self, session: AsyncSession, user_id: str) -> User:
        # Lock first, then read: the admin-count check must see the current state.
        await users.lock_admin_set(session)
        if not await users.lock_for_update(session, user_id):
            raise NotFound("User not found")
        user = await users.get_user(session, user_id)
        if user is None:
            raise NotFound("User not found")
        return user

    async def _keep_an_admin(self, session: AsyncSession) -> None:
        # The caller holds `lock_admin_set`: two concurrent demotions cannot both pass.
        if await users.count_active_admins(session) <= 1:
            raise Conflict(code=error_codes.AUTH_LAST_ADMIN)


def _text(amount: Decimal | None) -> str | None:
    return str(amount) if amount is not None else None
