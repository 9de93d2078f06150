"""The Quart app factory."""

from __future__ import annotations

import gc

from quart import Quart
from quart_schema import Info, QuartSchema

from core.clock import Clock, RealClock
from core.settings import Settings
from web.blueprints import (
    admin_analytics,
    admin_dlq,
    admin_logs,
    admin_monitoring,
    admin_strategies,
    admin_system,
    admin_users,
    analytics,
    auth,
    brokers,
    health,
    market,
    metrics,
    notifications,
    orders,
    playground,
    strategies,
    streams,
)
from web.errors import register_error_handlers
from web.json import FastJSONProvider
from web.middleware import register_request_logging
from web.ratelimit import register_rate_limits
from web.resources import Resources, install, uninstall

MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings, *, clock: Clock | None = None) -> Quart:
    """Build the web app; its pools open when it starts serving."""
    app = Quart("web")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path="/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        info=Info(title="Algo trading backend", version="0.1.0",
                  description="Intraday strategies on your own broker account."),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
    )
    # After QuartSchema, which installs its own (std-lib json, a fallback call for every
    # Decimal and datetime): replacing it first was silently undone.
    app.json = FastJSONProvider(app)
    register_request_logging(app)
    register_error_handlers(app)
    register_rate_limits(app)
    for blueprint in (health.blueprint, auth.blueprint, admin_users.blueprint,
                      admin_system.blueprint, strategies.blueprint, orders.blueprint,
                      market.blueprint, streams.blueprint, notifications.blueprint,
                      brokers.blueprint, admin_strategies.blueprint, admin_dlq.blueprint,
                      admin_logs.blueprint, admin_monitoring.blueprint, metrics.blueprint):
        app.register_blueprint(blueprint)
    app.register_blueprint(analytics.blueprint)
    app.register_blueprint(playground.blueprint)
    app.register_blueprint(admin_analytics.blueprint)

    @app.before_serving
    async def _open() -> None:
        install(app, await Resources.open(settings, clock or RealClock()))
        # Everything allocated so far lives as long as the process: keep it out of the
        # collector's full passes, which otherwise stall requests (the latency tail).
        gc.collect()
        gc.freeze()

    @app.after_serving
    async def _close() -> None:
        resources = uninstall(app)
        if resources is not None:
            await resources.close()

    return app
