"""Serve the app with Hypercorn until SIGTERM or SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config

from core import aio
from core.logging import configure_logging
from core.settings import Settings
from web.app import create_app


async def serve_forever(settings: Settings) -> None:
    """Run Hypercorn on `ALGO_WEB_HOST:ALGO_WEB_PORT`."""
    config = Config()
    config.bind = [f"{settings.web_host}:{settings.web_port}"]
    config.accesslog = None
    config.errorlog = None  # hypercorn's lines go through our JSON root logger instead
    config.graceful_timeout = settings.shutdown_timeout_s
    # Longer than a load balancer's idle timeout (60 s on AWS ALB), so the proxy, not
    # us, closes idle keep-alive connections and never sends on one we just closed.
    config.keep_alive_timeout = 75
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(create_app(settings), config, shutdown_trigger=stop.wait)


def main() -> None:
    """Entry point of `algo web` / `python -m web`."""
    settings = Settings()
    configure_logging("web", settings.log_level, json_lines=settings.log_json)
    aio.run(serve_forever(settings))
