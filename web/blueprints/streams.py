"""Live events over SSE (LIVE-1…LIVE-3): one strategy, the caller's own, or (admin) all.

Each event is `id: <stream sequence>`, `event: <type>`, `data: <JSON envelope>`; send the
last id back as `Last-Event-ID` to resume without a gap. See docs/live.md.
"""

from __future__ import annotations

from quart import Blueprint, Response

from core.errors import NotFound
from core.rbac import Permission
from core.repos import strategies as strategies_repo
from web.live.frames import Scope
from web.live.respond import sse_response
from web.resources import get_resources
from web.security import current_principal, require_stream

blueprint = Blueprint("streams", __name__)


@blueprint.get("/strategies/<strategy_id>/stream")
@require_stream(Permission.STRATEGIES_OWN)
async def strategy_stream(strategy_id: str) -> Response:
    """Server-Sent Events of one of the caller's strategies."""
    user_id = current_principal().user_id
    async with get_resources().sessions() as session:
        if await strategies_repo.get_owned(session, user_id, strategy_id) is None:
            raise NotFound("Strategy not found")
    return await sse_response(Scope(user_id, strategy_id))


@blueprint.get("/user/events/stream")
@require_stream(Permission.NOTIFICATIONS_OWN)
async def user_stream() -> Response:
    """Server-Sent Events of everything of the caller's (strategies, orders, notifications)."""
    return await sse_response(Scope(current_principal().user_id))


@blueprint.get("/admin/events/stream")
@require_stream(Permission.ADMIN_SYSTEM)
async def admin_stream() -> Response:
    """Server-Sent Events of the whole platform (admins only)."""
    return await sse_response(Scope(None))
