"""The web process's monitoring state: the NATS monitoring client and the tick-rate memory,
made on first use and closed with the app (the admin monitoring blueprint attaches it)."""

from __future__ import annotations

from dataclasses import dataclass

from quart import Blueprint, current_app

from core.monitoring import checks
from core.monitoring.metrics import Snapshot, collect
from core.monitoring.nats_server import NatsMonitor
from core.monitoring.rates import RateTracker
from core.monitoring.shared import Shared
from core.monitoring.system import Infrastructure, SystemHealth, system_health
from web.resources import get_resources

_KEY = "algo.monitoring"


@dataclass
class Monitoring:
    """Per-process collaborators of the health and metrics routes: the reports themselves
    are shared between the admins polling them (core/monitoring/shared.py)."""

    nats: NatsMonitor
    health: Shared[SystemHealth]
    metrics: Shared[Snapshot]
    rates: RateTracker


def attach(blueprint: Blueprint) -> None:
    """Close the monitoring state when the app stops serving."""

    @blueprint.after_app_serving
    async def _close() -> None:
        monitoring: Monitoring | None = current_app.extensions.pop(_KEY, None)
        if monitoring is not None:
            await monitoring.health.close()
            await monitoring.metrics.close()
            await monitoring.nats.close()


def get_monitoring() -> Monitoring:
    """The current app's monitoring state (inside a request)."""
    monitoring: Monitoring | None = current_app.extensions.get(_KEY)
    if monitoring is None:
        res = get_resources()
        settings = res.settings
        nats = NatsMonitor(settings.nats_monitor_url, max(settings.health_timeout_s, 1.0))
        infra = infrastructure()
        rates = RateTracker()
        roles = checks.parse_roles(settings.ready_roles)
        monitoring = Monitoring(
            nats,
            Shared(lambda: system_health(infra, nats, required_roles=roles,
                                         timeout_s=settings.health_timeout_s)),
            Shared(lambda: collect(res.sessions, res.redis, res.js, res.clock, rates)),
            rates)
        current_app.extensions[_KEY] = monitoring
    return monitoring


def infrastructure() -> Infrastructure:
    """The pools of this process, as the monitoring code takes them."""
    res = get_resources()
    return Infrastructure(engine=res.engine, sessions=res.sessions, redis=res.redis,
                          nc=res.nc, js=res.js, clock=res.clock)
