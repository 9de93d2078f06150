"""/admin/users: user management for admins; every call is audited (ADM-1, ADM-5)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from core.auth.admin_users import UNCHANGED, UserDetail
from core.rbac import Permission
from core.repos.users import UserFilter
from web.resources import get_resources
from web.schemas.admin_users import (
    AdminUserCreate,
    AdminUserDetail,
    AdminUserOut,
    AdminUserPage,
    AdminUserQuery,
    AdminUserUpdate,
)
from web.security import actor, require

blueprint = Blueprint("admin_users", __name__, url_prefix="/admin/users")


def _detail(detail: UserDetail) -> AdminUserDetail:
    base = AdminUserOut.model_validate(detail.user, from_attributes=True)
    return AdminUserDetail(**base.model_dump(), strategy_count=detail.strategy_count,
                           max_daily_loss=detail.user.max_daily_loss)


@blueprint.get("")
@require(Permission.ADMIN_USERS)
@validate_querystring(AdminUserQuery)
@validate_response(AdminUserPage)
async def list_users(query_args: AdminUserQuery) -> AdminUserPage:
    """Users newest first, filtered by role, active flag and e-mail substring."""
    page = await get_resources().services.admin_users.page(
        actor(), UserFilter(role=query_args.role, is_active=query_args.is_active,
                            search=query_args.q),
        limit=query_args.limit, cursor=query_args.cursor)
    return AdminUserPage(items=[AdminUserOut.model_validate(u, from_attributes=True)
                                for u in page.items], next_cursor=page.next_cursor)


@blueprint.post("")
@require(Permission.ADMIN_USERS)
@validate_request(AdminUserCreate)
@validate_response(AdminUserOut, 201)
async def create_user(data: AdminUserCreate) -> tuple[AdminUserOut, int]:
    """Create a user with a role."""
    user = await get_resources().services.admin_users.create(
        actor(), email=data.email, password=data.password, role=data.role)
    return AdminUserOut.model_validate(user, from_attributes=True), 201


@blueprint.get("/<user_id>")
@require(Permission.ADMIN_USERS)
@validate_response(AdminUserDetail)
async def get_user(user_id: str) -> AdminUserDetail:
    """One user with strategy count and last login."""
    return _detail(await get_resources().services.admin_users.detail(actor(), user_id))


@blueprint.put("/<user_id>")
@require(Permission.ADMIN_USERS)
@validate_request(AdminUserUpdate)
@validate_response(AdminUserDetail)
async def update_user(user_id: str, data: AdminUserUpdate) -> AdminUserDetail:
    """Change a user's role, active flag or max daily loss (deactivation ends sessions)."""
    return _detail(await get_resources().services.admin_users.update(
        actor(), user_id, role=data.role, is_active=data.is_active,
        max_daily_loss=(data.max_daily_loss if "max_daily_loss" in data.model_fields_set
                        else UNCHANGED)))


@blueprint.delete("/<user_id>")
@require(Permission.ADMIN_USERS)
async def delete_user(user_id: str) -> tuple[str, int]:
    """Soft-delete a user: access ends, sessions are revoked, running strategies stop."""
    await get_resources().services.admin_users.delete(actor(), user_id)
    return "", 204
