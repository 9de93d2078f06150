"""Reading an account's stored broker credential for an adapter's builder (BRK-7, BRK-8).

Secrets are sealed with core/crypto.py, the user id as associated data. A credential that
is missing, of another broker type, or that no configured key opens reads as None: the
adapter then refuses every call with TokenExpired ("log in again") and re-reads the row
before each call (`keep_last_good`), so a login made later is picked up without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.crypto import SecretBox, SecretUnreadable
from core.repos import broker_credentials

log = logging.getLogger("algo.brokers.credentials")

C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class OpenedCredential:
    """A credential row with its secrets decrypted (never logged)."""

    client_id: str | None
    api_key: str | None
    api_secret: str | None
    access_token: str | None
    expires_at: datetime | None


async def open_credential(sessions: async_sessionmaker[AsyncSession], box: SecretBox, *,
                          user_id: str, credential_id: str | None,
                          broker_type: str) -> OpenedCredential | None:
    """The user's live credential of `broker_type`, decrypted; None when there is none
    usable."""
    if credential_id is None:
        return None
    async with sessions() as session:
        row = await broker_credentials.get_owned(session, user_id, credential_id)
    if row is None or row.broker_type != broker_type:
        return None

    def opened(blob: bytes | None) -> str | None:
        return box.open(blob, owner=user_id) if blob else None

    try:
        return OpenedCredential(
            client_id=row.client_id, api_key=opened(row.encrypted_api_key),
            api_secret=opened(row.encrypted_api_secret),
            access_token=opened(row.encrypted_access_token), expires_at=row.token_expires_at)
    except SecretUnreadable:
        log.warning("%s credential %s does not decrypt", broker_type, credential_id)
        return None


def keep_last_good(load: Callable[[], Awaitable[C]], current: C) -> Callable[[], Awaitable[C]]:
    """A reload for brokers/common/session.py: the freshly read credential, or the last one
    read when the database cannot be reached (the broker itself will say if it is dead)."""
    async def reload() -> C:
        nonlocal current
        try:
            current = await load()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("re-reading a broker credential failed: %s", exc)
        return current

    return reload
