"""The daily token check (BRK-9): mark dead sessions invalid, tell their owners before the
market opens.

Indian broker sessions die daily (Kite at 06:00 IST). On each trading day, at
`ALGO_TOKEN_CHECK_TIME` (the trigger role runs it), every connection whose token is past
its expiry is marked invalid (`token_expired`), and every connection that will not be
valid at the close (expired by then, or refused by the broker) gets one `token_expiry`
notification. The notification and its NOTIFICATION event carry an id derived from
(connection, day): a rerun, a restart or a second trigger replica adds nothing.

Connections that log in by themselves are not the user's to renew: with a `renewer` the
check first renews every renewable connection dead before the close (core/connections/
renewal.py); those, and every `SELF_LOGIN` broker's (core/connections/model.py), are
neither marked expired nor announced, unless the broker refused their credentials.

The market-data connection (`feed_credential_id`, ALGO_FEED_BROKER_CREDENTIAL) stops the
ticks of every user when it dies: besides its owner's notice, every active admin gets one
`admin_alert` per day (id derived from the connection and day, so reruns add nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import IST, Clock
from core.connections.renewal import RenewalReport, Renewer
from core.db.models import BrokerCredential
from core.events import EventPublisher, EventType
from core.ids import derived_id
from core.notification_types import NotificationType
from core.repos import broker_credentials, notifications, users

log = logging.getLogger("algo.connections.expiry")

KIND: Final = "token_expiry"


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    """What one check did."""

    marked: int
    """Connections newly marked invalid."""
    notified: int
    """Notifications added (0 on a rerun)."""
    renewed: int = 0
    """Connections logged in again without their user."""
    feed_alerts: int = 0
    """Admin notifications added about the market-data connection (0 on a rerun)."""


def notice_id(credential_id: str, day: date) -> str:
    """The id of a connection's notice on `day` (notification and event alike)."""
    return derived_id("evt", KIND, credential_id, day.isoformat())


def describe(row: BrokerCredential, now: datetime) -> tuple[str, str]:
    """The notification's title and body."""
    name = f"{row.broker_type}" + (f" '{row.label}'" if row.label else "") \
        + (f" (account {row.client_id})" if row.client_id else "")
    body = (f"Your {name} connection needs a new login: {_why(row, now)}. Until you log in "
            f"again, strategies on it will not buy (they are held, then reported missed).")
    return f"Log in to {row.broker_type} again", body


def _why(row: BrokerCredential, now: datetime) -> str:
    expires = row.token_expires_at
    if expires is not None and expires <= now:
        why = f"its session expired at {expires.astimezone(IST):%H:%M} IST on " \
              f"{expires.astimezone(IST):%d %b}"
    elif expires is not None:
        why = f"its session expires at {expires.astimezone(IST):%H:%M} IST today"
    else:
        why = "the broker no longer accepts its session"
    return why


def feed_alert_id(credential_id: str, day: date) -> str:
    """The id of the admins' alert about the dead market-data connection on `day`."""
    return derived_id("evt", "feed_credential_dead", credential_id, day.isoformat())


async def check_tokens(sessions: async_sessionmaker[AsyncSession], events: EventPublisher,
                       clock: Clock, day: date, *, close_at: datetime,
                       renewer: Renewer | None = None,
                       feed_credential_id: str | None = None) -> ExpiryReport:
    """Renew what renews itself, mark expired sessions invalid and notify every connection
    dead before `close_at` (and the admins, if it is the market-data one)."""
    renewal = await renewer.renew_due(close_at) if renewer is not None else RenewalReport()
    now = clock.now()
    async with sessions() as session, session.begin():
        marked = await broker_credentials.expire_due(session, now, keep=renewal.renewable)
    async with sessions() as session:
        dead = [row for row in await broker_credentials.dead_before(session, close_at)
                if row.id not in renewal.renewable]
    feed_alerts = 0
    feed = next((row for row in dead if row.id == feed_credential_id), None)
    if feed is not None:
        feed_alerts = await _alert_admins(sessions, feed, day, now)
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
                                        "dead": len(dead), "notified": notified,
                                        "renewed": len(renewal.renewed)})
    return ExpiryReport(marked=marked, notified=notified, renewed=len(renewal.renewed),
                        feed_alerts=feed_alerts)


async def _alert_admins(sessions: async_sessionmaker[AsyncSession], row: BrokerCredential,
                        day: date, now: datetime) -> int:
    """One notification per active admin: the market-data session will be dead today."""
    title = "Market data will stop: its broker connection needs a new login"
    body = (f"The market-data connection {row.id} ({row.broker_type}, "
            f"ALGO_FEED_BROKER_CREDENTIAL, owned by user {row.user_id}) will not be valid "
            f"today: {_why(row, now)}. Until its owner logs in again, the feed streams no "
            f"broker ticks for any user.")
    log.error("the market-data broker connection is dead", extra={
        "credential_id": row.id, "broker_type": row.broker_type,
        "trading_day": day.isoformat()})
    added = 0
    async with sessions() as session, session.begin():
        for admin_id in await users.active_admin_ids(session):
            added += await notifications.add_for_event(
                session, event_id=feed_alert_id(row.id, day), user_id=admin_id,
                type=NotificationType.ADMIN_ALERT.value, title=title, body=body,
                data={"kind": "feed_credential_dead", "credential_id": row.id,
                      "broker_type": row.broker_type, "trading_day": day.isoformat()})
    return added
