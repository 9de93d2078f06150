"""The web process's monitoring state: the NATS monitoring client and the tick-rate memory,
made on first use and closed with the app (the admin monitoring blueprint attaches it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from quart import Blueprint, current_app

from core.monitoring.nats_server import NatsMonitor
from core.monitoring.rates import RateTracker
from core.monitoring.system import Infrastructure
from web.resources import get_resources

_KEY = "algo.monitoring"


@dataclass
class Monitoring:
    """Per-process collaborators of the health and metrics routes."""

    nats: NatsMonitor
    rates: RateTracker = field(default_factory=RateTracker)


def attach(blueprint: Blueprint) -> None:
    """Close the monitoring state when the app stops serving."""

    @blueprint.after_app_serving
    async def _close() -> None:
        monitoring: Monitoring | None = current_app.extensions.pop(_KEY, None)
        if monitoring is not None:
            await monitoring.nats.close()


def get_monitoring() -> Monitoring:
    """The current app's monitoring state (inside a request)."""
    monitoring: Monitoring | None = current_app.extensions.get(_KEY)
    if monitoring is None:
        settings = get_resources().settings
        monitoring = Monitoring(NatsMonitor(settings.nats_monitor_url,
                                            max(settings.health_timeout_s, 1.0)))
        current_app.extensions[_KEY] = monitoring
    return monitoring


def infrastructure() -> Infrastructure:
    """The pools of this process, as the monitoring code takes them."""
    res = get_resources()
    return Infrastructure(engine=res.engine, sessions=res.sessions, redis=res.redis,
                          nc=res.nc, js=res.js, clock=res.clock)
