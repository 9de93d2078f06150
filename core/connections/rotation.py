"""`algo keys rotate`: re-encrypt every stored broker secret under the primary key.

Safe while everything runs: readers open a value with whichever configured key its prefix
names, so a row is readable before, during and after its re-encryption. The table is walked
by id in small batches, each its own short transaction holding its rows' locks (a connect
that holds a row is waited for, never overwritten). Rows already under the primary key are
left alone, so a rerun does nothing and an interrupted run continues where it stopped.
Retire an old key from `ALGO_ENCRYPTION_KEYS` only after a run reports nothing `unreadable`
and nothing left under it (`remaining`).

Every run is audited (`keys.rotate`, DESIGN §7): the primary key id, the counts, the
unreadable rows and the key ids still in use, never a key. A value naming a key this
process is not configured with (`missing_keys`) is a configuration fault of the run, told
apart from a value no configured key opens (tampered, or moved to another user).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.connections.vault import SEALED_COLUMNS
from core.crypto import SecretBox, SecretUnreadable, UnknownKey
from core.db.models import BrokerCredential
from core.repos import audit, broker_credentials
from core.repos.audit import Actor

log = logging.getLogger("algo.crypto.rotate")


@dataclass
class RotationReport:
    """What one run did."""

    primary: str
    scanned: int = 0
    rotated: int = 0
    """Rows re-encrypted under the primary key."""
    unreadable: list[str] = field(default_factory=list)
    """Ids of rows no configured key opens (left untouched)."""
    remaining: Counter[str] = field(default_factory=Counter)
    """Sealed values still under another key after the run, by key id."""
    missing_keys: set[str] = field(default_factory=set)
    """Key ids that unreadable rows name but this run was not configured with."""


def _reseal(box: SecretBox, row: BrokerCredential) -> bool:
    """Re-encrypt the row's sealed columns in place; True if anything changed."""
    fresh: dict[str, bytes] = {}
    for column in SEALED_COLUMNS:
        blob = getattr(row, column)
        if blob and not box.is_current(blob):
            fresh[column] = box.reseal(blob, owner=row.user_id)  # all or none per row
    for column, blob in fresh.items():
        setattr(row, column, blob)
    stale_id = row.key_id != box.current_key_id and any(getattr(row, c) for c in SEALED_COLUMNS)
    if fresh or stale_id:
        row.key_id = box.current_key_id
    return bool(fresh) or stale_id


async def rotate_keys(sessions: async_sessionmaker[AsyncSession], box: SecretBox, *,
                      batch_size: int = 200) -> RotationReport:
    """Re-encrypt every broker credential's secrets under `box`'s primary key."""
    report = RotationReport(primary=box.current_key_id)
    after = ""
    while True:
        async with sessions() as session, session.begin():
            rows = await broker_credentials.batch_after(session, after, batch_size)
            for row in rows:
                report.scanned += 1
                try:
                    report.rotated += _reseal(box, row)
                except SecretUnreadable as exc:
                    report.unreadable.append(row.id)
                    if isinstance(exc, UnknownKey):
                        report.missing_keys.add(exc.key_id)
                    log.error("broker credential does not decrypt with any configured key",
                              extra={"credential_id": row.id, "key_id": row.key_id})
                for column in SEALED_COLUMNS:
                    blob = getattr(row, column)
                    if blob and not box.is_current(blob):
                        report.remaining[box.key_id_of(blob) or "?"] += 1
        if len(rows) < batch_size:
            break
        after = rows[-1].id
    async with sessions() as session, session.begin():
        await audit.record(session, Actor(None, "system"), "keys.rotate",
                           target_type="encryption_key", target_id=report.primary, details={
                               "scanned": report.scanned, "rotated": report.rotated,
                               "unreadable": report.unreadable[:100],
                               "unreadable_count": len(report.unreadable),
                               "missing_keys": sorted(report.missing_keys),
                               "remaining": dict(report.remaining)})
    log.info("key rotation finished", extra={"primary": report.primary,
                                              "scanned": report.scanned,
                                              "rotated": report.rotated,
                                              "unreadable": len(report.unreadable),
                                              "missing_keys": sorted(report.missing_keys)})
    return report
