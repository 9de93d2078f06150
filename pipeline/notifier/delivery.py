"""One event → its notification rows (exactly once) → live NOTIFICATION events, e-mail, push.

1. In one transaction, each recipient's row is inserted unless it exists (key: event id +
   user id) and unless the user turned the type's in-app channel off.
2. Each recipient's row not yet `delivered_at` is announced: a NOTIFICATION event whose id
   is derived from the row's id (so a repeat is dropped by the stream), e-mail and push as
   the user chose; then `delivered_at` is set.
A crash anywhere repeats the event: step 1 then adds nothing, step 2 redoes only what was
not marked delivered. In-app rows and NOTIFICATION events are exactly once; an e-mail or
push sent just before a crash may go out twice (at-least-once, as every mail system is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.events import EventPublisher, EventType
from core.mail import Mail
from core.messages import Event
from core.notification_types import ALWAYS_IN_APP, DEFAULT, Channels
from core.repos import notification_preferences as prefs_repo
from core.repos import notifications as repo
from core.repos import users
from core.repos.notifications import NotificationView
from pipeline.notifier.rules import Draft, draft
from pipeline.notifier.senders import Push, Senders

log = logging.getLogger("algo.pipeline.notifier")


@dataclass(frozen=True, slots=True)
class Recipient:
    """A user a draft goes to, with their address and chosen channels."""

    user_id: str
    email: str
    channels: Channels


def notification_event_id(notification_id: str) -> str:
    """The fixed id of a notification's NOTIFICATION event (`ntf_X` → `evt_X`)."""
    return "evt_" + notification_id.partition("_")[2]


class Deliverer:
    """Handles one event at a time; safe to repeat for the same event."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventPublisher,
                 senders: Senders, clock: Clock) -> None:
        self._sessions = sessions
        self._events = events
        self._senders = senders
        self._clock = clock
        self.created = 0
        self.delivered = 0

    async def handle(self, event: Event) -> None:
        """Store and deliver the notification `event` calls for (if any)."""
        note = draft(event)
        if note is None:
            return
        async with self._sessions() as session, session.begin():
            recipients = await self._recipients(session, event, note)
            for r in recipients:
                if r.channels.in_app or note.type in ALWAYS_IN_APP:
                    self.created += await repo.add_for_event(
                        session, event_id=event.id, user_id=r.user_id, type=note.type.value,
                        title=note.title, body=note.body, data=note.data)
        for r in recipients:
            await self._deliver(event, note, r)

    async def _recipients(self, session: AsyncSession, event: Event,
                          note: Draft) -> list[Recipient]:
        ids = await users.active_admin_ids(session) if note.for_admins else [event.user_id]
        chosen = await prefs_repo.of_user_types(session, ids, note.type.value)
        found: list[Recipient] = []
        for user_id in ids:
            view = await users.get_auth_view(session, user_id)
            if view is None or view.deleted_at is not None or not view.is_active:
                continue  # nobody to tell (an unknown or closed account)
            found.append(Recipient(user_id, view.email, chosen.get(user_id, DEFAULT)))
        return found

    async def _deliver(self, event: Event, note: Draft, r: Recipient) -> None:
        async with self._sessions() as session:
            row = await repo.get_for_event(session, event.id, r.user_id)
        if row is not None and row.delivered_at is not None:
            return
        if row is not None:
            await self._events.publish(self._live_event(event, row))
        if r.channels.email:
            await self._senders.mail.send(Mail(to=r.email, subject=note.title, body=note.body))
        if r.channels.push:
            await self._senders.push.send(Push(r.user_id, note.title, note.body,
                                               row.data if row else note.data))
        if row is not None:
            async with self._sessions() as session, session.begin():
                await repo.mark_delivered(session, row.id, self._clock.now())
            self.delivered += 1

    def _live_event(self, source: Event, row: NotificationView) -> Event:
        return self._events.build(
            EventType.NOTIFICATION, user_id=row.user_id, strategy_id=source.strategy_id,
            rev=source.rev, event_id=notification_event_id(row.id), data={
                "notification_id": row.id, "type": row.type, "title": row.title,
                "body": row.body, "data": row.data, "source_event_id": source.id,
                "created_at": row.created_at.isoformat()})
