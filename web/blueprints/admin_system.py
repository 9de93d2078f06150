"""/admin/system: the kill switch (RUN-8); every change is audited."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from core.errors import NotFound
from core.rbac import Permission
from web.resources import get_resources
from web.schemas.admin_system import HaltCreate, HaltList, HaltOut
from web.security import actor, current_principal, require

blueprint = Blueprint("admin_system", __name__, url_prefix="/admin/system")


@blueprint.get("/halt")
@require(Permission.ADMIN_SYSTEM)
@validate_response(HaltList)
async def list_halts() -> HaltList:
    """Every engaged halt: global and per user."""
    halts = await get_resources().services.halts.active()
    return HaltList(items=[HaltOut.model_validate(h, from_attributes=True) for h in halts])


@blueprint.post("/halt")
@require(Permission.ADMIN_SYSTEM)
@validate_request(HaltCreate)
@validate_response(HaltOut, 201)
async def engage_halt(data: HaltCreate) -> tuple[HaltOut, int]:
    """Engage the kill switch: no broker order is sent for the scope until it is released."""
    halt = await get_resources().services.halts.engage(
        data.scope, data.reason, set_by=current_principal().user_id, actor=actor())
    return HaltOut.model_validate(halt, from_attributes=True), 201


@blueprint.delete("/halt/<scope>")
@require(Permission.ADMIN_SYSTEM)
async def release_halt(scope: str) -> tuple[str, int]:
    """Release the kill switch of a scope (`global` or a user id)."""
    if not await get_resources().services.halts.release(scope, actor=actor()):
        raise NotFound("Halt not engaged")
    return "", 204
