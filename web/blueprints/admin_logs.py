"""/admin/logs/orders, /admin/logs/errors, /admin/audit: the platform's logs (ADM-4, ADM-5)."""

from __future__ import annotations

import dataclasses

from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from core.admin.logs import AdminLogs
from core.db.models import OrderLog
from core.rbac import Permission
from core.repos.audit import AuditFilter
from core.repos.error_logs import ErrorLogFilter
from core.repos.order_logs import OrderLogFilter
from web.resources import get_resources
from web.schemas.admin_logs import (
    AuditOut,
    AuditPage,
    AuditQuery,
    ErrorLogOut,
    ErrorLogPage,
    ErrorLogQuery,
    OrderLogOut,
    OrderLogPage,
    OrderLogQuery,
)
from web.security import require

blueprint = Blueprint("admin_logs", __name__, url_prefix="/admin")


def _logs() -> AdminLogs:
    return get_resources().services.admin_logs


def _order_log(row: OrderLog) -> OrderLogOut:
    return OrderLogOut(
        id=row.id, order_id=row.order_id, strategy_id=row.strategy_id, user_id=row.user_id,
        attempt=row.attempt, action=row.action, status=row.status, outcome=row.outcome,
        request=row.request, response=row.response, error=row.error,
        latency_ms=None if row.latency_us is None else row.latency_us / 1000,
        trace_id=row.trace_id, created_at=row.created_at)


@blueprint.get("/logs/orders")
@require(Permission.ADMIN_SYSTEM)
@validate_querystring(OrderLogQuery)
@validate_response(OrderLogPage)
async def order_logs(query_args: OrderLogQuery) -> OrderLogPage:
    """Every broker interaction, newest first, by user, strategy, order, outcome, trace, time."""
    q = query_args
    page = await _logs().orders(OrderLogFilter(
        user_id=q.user_id, strategy_id=q.strategy_id, order_id=q.order_id,
        action=q.action.value if q.action else None, status=q.status, outcome=q.outcome,
        trace_id=q.trace_id, since=q.since, until=q.until), limit=q.limit, cursor=q.cursor)
    return OrderLogPage(items=[_order_log(r) for r in page.items], next_cursor=page.next_cursor)


@blueprint.get("/logs/errors")
@require(Permission.ADMIN_SYSTEM)
@validate_querystring(ErrorLogQuery)
@validate_response(ErrorLogPage)
async def error_logs(query_args: ErrorLogQuery) -> ErrorLogPage:
    """Stored ERROR/CRITICAL records, newest first, by level, service, user, strategy, trace,
    time."""
    q = query_args
    page = await _logs().errors(ErrorLogFilter(
        levels=(q.level,) if q.level else (), service=q.service, since=q.since, until=q.until,
        user_id=q.user_id, strategy_id=q.strategy_id, trace_id=q.trace_id),
        limit=q.limit, cursor=q.cursor)
    return ErrorLogPage(items=[ErrorLogOut(**dataclasses.asdict(r)) for r in page.items],
                        next_cursor=page.next_cursor)


@blueprint.get("/audit")
@require(Permission.ADMIN_SYSTEM)
@validate_querystring(AuditQuery)
@validate_response(AuditPage)
async def audit_log(query_args: AuditQuery) -> AuditPage:
    """Audited actions, newest first, by actor, action, target and time."""
    q = query_args
    page = await _logs().audit(AuditFilter(
        actor_id=q.actor_id, action=q.action, target_type=q.target_type,
        target_id=q.target_id, since=q.since, until=q.until), limit=q.limit, cursor=q.cursor)
    return AuditPage(items=[AuditOut.model_validate(r, from_attributes=True)
                            for r in page.items], next_cursor=page.next_cursor)
