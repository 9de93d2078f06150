"""/admin/analytics: platform, user growth and order figures (ANA-2); admins only."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from core.rbac import Permission
from web.blueprints.analytics import out
from web.resources import get_resources
from web.schemas.analytics import (
    AnalyticsQuery,
    OrderVolumeOut,
    PeriodQuery,
    PlatformOut,
    UserGrowthOut,
)
from web.security import require

blueprint = Blueprint("admin_analytics", __name__, url_prefix="/admin/analytics")


@blueprint.get("/platform")
@require(Permission.ADMIN_ANALYTICS)
@validate_querystring(AnalyticsQuery)
@validate_response(PlatformOut)
async def platform(query_args: AnalyticsQuery) -> PlatformOut:
    """Users, strategies, orders and realised P&L: overall and today."""
    value = await get_resources().services.platform_analytics.platform(
        simulated=query_args.simulated)
    return out(PlatformOut, value)


@blueprint.get("/users")
@require(Permission.ADMIN_ANALYTICS)
@validate_querystring(PeriodQuery)
@validate_response(UserGrowthOut)
async def users(query_args: PeriodQuery) -> UserGrowthOut:
    """New, total, active (trading) and churned users per period."""
    value = await get_resources().services.platform_analytics.users(
        simulated=query_args.simulated, period=query_args.period, start=query_args.start,
        end=query_args.end)
    return out(UserGrowthOut, value)


@blueprint.get("/orders")
@require(Permission.ADMIN_ANALYTICS)
@validate_querystring(PeriodQuery)
@validate_response(OrderVolumeOut)
async def orders(query_args: PeriodQuery) -> OrderVolumeOut:
    """Order volume and success rate per period, and the broker mix."""
    value = await get_resources().services.platform_analytics.orders(
        simulated=query_args.simulated, period=query_args.period, start=query_args.start,
        end=query_args.end)
    return out(OrderVolumeOut, value)
