"""/metrics: Prometheus text exposition (OPS-2). Public like /health: it names no user."""

from __future__ import annotations

from quart import Blueprint, Response

from core.monitoring.metrics import collect
from web import prometheus
from web.monitoring import get_monitoring
from web.resources import get_resources

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics: HTTP latency, orders, latencies, strategies, ticks, lag, errors."""
    res = get_resources()
    snap = await collect(res.sessions, res.redis, res.js, res.clock, get_monitoring().rates)
    return Response(await prometheus.render(snap), content_type=prometheus.CONTENT_TYPE)
