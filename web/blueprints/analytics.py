"""/analytics/user: the caller's own P&L and order figures (ANA-1). Real and simulated
(playground) figures are never mixed: `?simulated=true` asks for the simulated ones."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel
from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from core.rbac import Permission
from web.resources import get_resources
from web.schemas.analytics import (
    AnalyticsQuery,
    PerformanceOut,
    PeriodQuery,
    RangeQuery,
    StrategyListOut,
    SummaryOut,
)
from web.security import current_principal, require

blueprint = Blueprint("analytics", __name__, url_prefix="/analytics/user")

M = TypeVar("M", bound=BaseModel)


def out(model: type[M], value: Any) -> M:
    """A core analytics answer as its response schema."""
    return model.model_validate(msgspec.to_builtins(value))


@blueprint.get("/summary")
@require(Permission.ANALYTICS_OWN)
@validate_querystring(AnalyticsQuery)
@validate_response(SummaryOut)
async def summary(query_args: AnalyticsQuery) -> SummaryOut:
    """Realised P&L, order count and success rate, wins and losses over all your days."""
    value = await get_resources().services.analytics.summary(
        current_principal().user_id, simulated=query_args.simulated)
    return out(SummaryOut, value)


@blueprint.get("/performance")
@require(Permission.ANALYTICS_OWN)
@validate_querystring(PeriodQuery)
@validate_response(PerformanceOut)
async def performance(query_args: PeriodQuery) -> PerformanceOut:
    """Your figures per day, week or month."""
    value = await get_resources().services.analytics.performance(
        current_principal().user_id, simulated=query_args.simulated, period=query_args.period,
        start=query_args.start, end=query_args.end)
    return out(PerformanceOut, value)


@blueprint.get("/strategies")
@require(Permission.ANALYTICS_OWN)
@validate_querystring(RangeQuery)
@validate_response(StrategyListOut)
async def strategies(query_args: RangeQuery) -> StrategyListOut:
    """Figures per strategy of yours, best P&L first."""
    value = await get_resources().services.analytics.strategies(
        current_principal().user_id, simulated=query_args.simulated, start=query_args.start,
        end=query_args.end)
    return out(StrategyListOut, value)
