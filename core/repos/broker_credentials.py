"""Data access for `broker_credentials`: ownership checks, connections, expiry, rotation."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.connections.model import SELF_LOGIN, CredentialState, Reason
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


async def get_owned_locked(session: AsyncSession, user_id: str,
                           credential_id: str) -> BrokerCredential | None:
    """`get_owned`, the row locked until the transaction ends."""
    result = await session.execute(select(BrokerCredential).where(
        BrokerCredential.id == credential_id, BrokerCredential.user_id == user_id,
        BrokerCredential.deleted_at.is_(None)).with_for_update())
    return result.scalar_one_or_none()


async def find_account(session: AsyncSession, user_id: str, broker_type: str,
                       account_id: str) -> BrokerCredential | None:
    """The user's live connection to this broker account, locked."""
    result = await session.execute(select(BrokerCredential).where(
        BrokerCredential.user_id == user_id, BrokerCredential.broker_type == broker_type,
        BrokerCredential.client_id == account_id, BrokerCredential.deleted_at.is_(None))
        .with_for_update())
    return result.scalar_one_or_none()


async def list_live(session: AsyncSession, user_id: str) -> list[BrokerCredential]:
    """The user's connections (not disconnected), oldest first."""
    return list((await session.execute(
        select(BrokerCredential).where(BrokerCredential.user_id == user_id,
                                       BrokerCredential.deleted_at.is_(None))
        .order_by(BrokerCredential.created_at, BrokerCredential.id))).scalars())


def _state(row: BrokerCredential) -> CredentialState:
    return CredentialState(id=row.id, user_id=row.user_id, broker_type=row.broker_type,
                           is_valid=row.is_valid, has_token=row.encrypted_access_token is not None,
                           token_expires_at=row.token_expires_at,
                           status_reason=row.status_reason, deleted=row.deleted_at is not None)


async def states(session: AsyncSession, credential_ids: Iterable[str],
                 ) -> dict[str, CredentialState]:
    """The state columns of these connections (deleted ones included, flagged), by id."""
    ids = sorted(set(credential_ids))
    if not ids:
        return {}
    cols = (BrokerCredential.id, BrokerCredential.user_id, BrokerCredential.broker_type,
            BrokerCredential.is_valid, BrokerCredential.encrypted_access_token.is_not(None),
            BrokerCredential.token_expires_at, BrokerCredential.status_reason,
            BrokerCredential.deleted_at.is_not(None))
    rows = (await session.execute(select(*cols).where(BrokerCredential.id.in_(ids)))).all()
    return {r[0]: CredentialState(*r) for r in rows}


def state_of_row(row: BrokerCredential) -> CredentialState:
    """The state columns of a loaded row."""
    return _state(row)


async def expire_due(session: AsyncSession, now: datetime, *,
                     keep: Collection[str] = ()) -> int:
    """Mark every live, still-valid connection whose token is past its expiry invalid, but
    for those that log in again by themselves (`SELF_LOGIN` brokers, and the ids in
    `keep`: connections the token check renews)."""
    result = await session.execute(
        update(BrokerCredential)
        .where(BrokerCredential.deleted_at.is_(None), BrokerCredential.is_valid.is_(True),
               BrokerCredential.token_expires_at <= now,
               BrokerCredential.broker_type.not_in(sorted(SELF_LOGIN)),
               BrokerCredential.id.not_in(sorted(keep)))
        .values(is_valid=False, status_reason=Reason.TOKEN_EXPIRED.value, updated_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


async def dead_before(session: AsyncSession, deadline: datetime) -> list[BrokerCredential]:
    """Live connections that hold a token and will not be valid at `deadline` (expired by
    then, or refused by the broker), oldest first. A `SELF_LOGIN` broker's connection is
    one only when refused (or unreadable): its expiry renews itself."""
    refused = and_(BrokerCredential.is_valid.is_(False),
                   BrokerCredential.status_reason.is_distinct_from(Reason.TOKEN_EXPIRED.value))
    return list((await session.execute(
        select(BrokerCredential).where(
            BrokerCredential.deleted_at.is_(None),
            BrokerCredential.encrypted_access_token.is_not(None),
            or_(BrokerCredential.token_expires_at <= deadline,
                BrokerCredential.is_valid.is_(False)),
            or_(BrokerCredential.broker_type.not_in(sorted(SELF_LOGIN)), refused))
        .order_by(BrokerCredential.id))).scalars())


async def batch_after(session: AsyncSession, after: str, limit: int) -> list[BrokerCredential]:
    """The next `limit` rows by id after `after` (every row, deleted too), locked: key
    rotation walks the table with this, waiting for a connect that holds a row."""
    return list((await session.execute(
        select(BrokerCredential).where(BrokerCredential.id > after)
        .order_by(BrokerCredential.id).limit(limit)
        .with_for_update())).scalars())



async def key_ids_in_use(session: AsyncSession) -> dict[str, int]:
    """How many credentials each encryption key id seals (backups record the ids, never keys)."""
    rows = await session.execute(
        select(BrokerCredential.key_id, func.count()).where(BrokerCredential.key_id.is_not(None))
        .group_by(BrokerCredential.key_id))
    return {str(key_id): int(count) for key_id, count in rows.all()}
