"""Turning an authorised SSE request into a streaming response."""

from __future__ import annotations

from typing import Final

from quart import Response, request

from core.errors import Unavailable, ValidationFailed
from web.live.frames import Scope
from web.live.stream import EventStream
from web.resources import get_resources
from web.security import current_principal

HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}
LAST_EVENT_ID_MAX: Final = 2**63 - 1


def last_event_id() -> int | None:
    """The `Last-Event-ID` header (or `?last_event_id=`): the stream sequence to resume after."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if not 0 <= value <= LAST_EVENT_ID_MAX:
        raise ValidationFailed("Last-Event-ID must be an event id received from this stream",
                               details={"last_event_id": raw[:40]})
    return value


async def sse_response(scope: Scope) -> Response:
    """A response streaming the events of `scope` to the current principal."""
    res = get_resources()
    if not res.hub.ready:
        raise Unavailable("Live events are not available yet; retry shortly",
                          details={"component": "nats"})
    principal = current_principal()
    authenticator = res.services.authenticator
    stream = EventStream(
        res.hub, res.js, scope, last_event_id=last_event_id(),
        heartbeat_s=res.settings.sse_heartbeat_s,
        session_ok=lambda: authenticator.still_valid(principal),
        expires_at=None if principal.expires_at is None else float(principal.expires_at),
        wall=lambda: res.clock.now().timestamp())
    response = Response(stream.body(), status=200, headers=HEADERS)
    response.timeout = None  # streams for as long as the session lasts
    return response
