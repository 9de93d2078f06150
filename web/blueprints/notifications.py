"""/notifications: the caller's in-app notifications and channel preferences (LIVE-4)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from core.errors import NotFound, ValidationFailed
from core.notification_types import ALWAYS_IN_APP, DEFAULT, Channels, NotificationType
from core.rbac import Permission
from core.repos import notification_preferences as prefs_repo
from core.repos import notifications as repo
from core.repos.notifications import NotificationView
from web.resources import get_resources
from web.schemas.notifications import (
    NotificationOut,
    NotificationPage,
    NotificationQuery,
    PreferenceItem,
    PreferencesIn,
    PreferencesOut,
    ReadAllOut,
    UnreadCount,
)
from web.security import current_principal, require

blueprint = Blueprint("notifications", __name__, url_prefix="/notifications")


def _out(view: NotificationView) -> NotificationOut:
    return NotificationOut.model_validate(view, from_attributes=True)


@blueprint.get("")
@require(Permission.NOTIFICATIONS_OWN)
@validate_querystring(NotificationQuery)
@validate_response(NotificationPage)
async def list_notifications(query_args: NotificationQuery) -> NotificationPage:
    """The caller's notifications, newest first (`unread=true`: unread only)."""
    user_id = current_principal().user_id
    async with get_resources().reads() as session:
        rows = await repo.list_for_user(session, user_id, unread_only=query_args.unread,
                                        limit=query_args.limit + 1,
                                        before_id=query_args.cursor)
        unread = await repo.unread_count(session, user_id)
    page = rows[:query_args.limit]
    more = len(rows) > query_args.limit
    return NotificationPage(items=[_out(r) for r in page], unread_count=unread,
                            next_cursor=page[-1].id if more and page else None)


@blueprint.get("/unread-count")
@require(Permission.NOTIFICATIONS_OWN)
@validate_response(UnreadCount)
async def unread_count() -> UnreadCount:
    """How many of the caller's notifications are unread."""
    async with get_resources().reads() as session:
        return UnreadCount(unread_count=await repo.unread_count(
            session, current_principal().user_id))


@blueprint.post("/<notification_id>/read")
@require(Permission.NOTIFICATIONS_OWN)
@validate_response(NotificationOut)
async def mark_read(notification_id: str) -> NotificationOut:
    """Mark one notification read (repeating it changes nothing)."""
    res = get_resources()
    async with res.sessions() as session, session.begin():
        row = await repo.mark_read(session, current_principal().user_id, notification_id,
                                   res.clock.now())
    if row is None:
        raise NotFound("Notification not found")
    return _out(row)


@blueprint.post("/read-all")
@require(Permission.NOTIFICATIONS_OWN)
@validate_response(ReadAllOut)
async def read_all() -> ReadAllOut:
    """Mark every notification of the caller read."""
    res = get_resources()
    async with res.sessions() as session, session.begin():
        updated = await repo.mark_all_read(session, current_principal().user_id,
                                           res.clock.now())
    return ReadAllOut(updated=updated, unread_count=0)


async def _preferences(user_id: str) -> PreferencesOut:
    async with get_resources().reads() as session:
        chosen = await prefs_repo.of_user(session, user_id)
    items = []
    for ntype in NotificationType:
        c = chosen.get(ntype.value, DEFAULT)
        locked = ntype in ALWAYS_IN_APP
        items.append(PreferenceItem(type=ntype, in_app=c.in_app or locked, email=c.email,
                                    push=c.push, locked_in_app=locked))
    return PreferencesOut(items=items)


@blueprint.get("/preferences")
@require(Permission.NOTIFICATIONS_OWN)
@validate_response(PreferencesOut)
async def get_preferences() -> PreferencesOut:
    """Every notification type with the channels it goes to."""
    return await _preferences(current_principal().user_id)


@blueprint.put("/preferences")
@require(Permission.NOTIFICATIONS_OWN)
@validate_request(PreferencesIn)
@validate_response(PreferencesOut)
async def put_preferences(data: PreferencesIn) -> PreferencesOut:
    """Choose the channels of some types; the others keep theirs."""
    locked = [p.type.value for p in data.items if not p.in_app and p.type in ALWAYS_IN_APP]
    if locked:
        raise ValidationFailed("These notifications are always shown in the app",
                               details={"types": locked})
    user_id = current_principal().user_id
    async with get_resources().sessions() as session, session.begin():
        await prefs_repo.put(session, user_id, {
            p.type.value: Channels(p.in_app, p.email, p.push) for p in data.items})
    return await _preferences(user_id)
