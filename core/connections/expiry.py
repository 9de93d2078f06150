"""The daily token check (BRK-9): mark dead sessions invalid, tell their owners before the
market opens.

Indian broker sessions die daily (Kite at 06:00 IST). On each trading day, at
`ALGO_TOKEN_CHECK_TIME` (the trigger role runs it), every connection whose token is past
its expiry is marked invalid (`token_expired`), and every connection that will not be
valid at the close (expired by then, or refused by the broker) gets one `token_expiry`
notification. The notification and its NOTIFICATION event carry an id derived from
(connection, day): a rerun, a restart or a second trigger replica adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import IST, Clock
from core.db.models import BrokerCredential
from core.events import EventPublisher, EventType
from core.ids import derived_id
from core.repos import broker_credentials, notifications

log = logging.getLogger("algo.connections.expiry")

KIND: Final = "token_expiry"


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    """What one check did."""

    marked: int
    """Connections newly marked invalid."""
    notified: int
    """Notifications added (0 on a rerun)."""


def notice_id(credential_id: str, day: date) -> str:
    """The id of a connection's notice on `day` (notification and event alike)."""
    return derived_id("evt", KIND, credential_id, day.isoformat())


def describe(row: BrokerCredential, now: datetime) -> tuple[str, str]:
    """The notification's title and body."""
    name = f"{row.broker_type}" + (f" '{row.label}'" if row.label else "") \
        + (f" (account {row.client_id})" if row.client_id else "")
    expires = row.token_expires_at
    if expires is not None and expires <= now:
        why = f"its session expired at {expires.astimezone(IST):%H:%M} IST on " \
              f"{expires.astimezone(IST):%d %b}"
    elif expires is not None:
        why = f"its session expires at {expires.astimezone(IST):%H:%M} IST today"
    else:
        why = "the broker no longer accepts its session"
    body = (f"Your {name} connection needs a new login: {why}. Until you log in again, "
            f"strategies on it will not buy (they are held, then reported missed).")
    return f"Log in to {row.broker_type} again", body


async def check_tokens(sessions: async_sessionmaker[AsyncSession], events: EventPublisher,
                       clock: Clock, day: date, *, close_at: datetime) -> ExpiryReport:
    """Mark expired sessions invalid and notify every connection dead before `close_at`."""
    now = clock.now()
    async with sessions() as session, session.begin():
        marked = await broker_credentials.expire_due(session, now)
    async with sessions() as session:
        dead = await broker_credentials.dead_before(session, close_at)
    notified = 0
    for row in dead:
        title, body = describe(row, now)
        event = events.build(EventType.NOTIFICATION, user_id=row.user_id, strategy_id=None,
                             event_id=notice_id(row.id, day), data={
                                 "kind": KIND, "credential_id": row.id,
                                 "broker_type": row.broker_type, "trading_day": day.isoformat(),
                                 "token_expires_at": None if row.token_expires_at is None
                                 else row.token_expires_at.isoformat(),
                                 "title": title, "message": body})
        async with sessions() as session, session.begin():
            notified += await notifications.add_for_event(
                session, event_id=event.id, user_id=row.user_id, type=KIND, title=title,
                body=body, data={k: event.data[k] for k in
                                 ("credential_id", "broker_type", "trading_day",
                                  "token_expires_at")})
        await events.publish(event)  # the stream drops a repeat of the same id
    log.info("token check done", extra={"trading_day": day.isoformat(), "marked": marked,
                                        "dead": len(dead), "notified": notified})
    return ExpiryReport(marked=marked, notified=notified)
