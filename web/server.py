"""Serve the app with Hypercorn until SIGTERM or SIGINT, then shut down gracefully.

One process by default; `ALGO_WEB_WORKERS=N` runs N worker processes on the same port
(Hypercorn's supervisor), one per core, since one Python process uses one core.
"""

from __future__ import annotations

import asyncio
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypercorn.run import run as run_workers

from core import aio
from core.logging import configure_logging
from core.settings import Settings
from web.app import create_app


def hypercorn_config(settings: Settings) -> Config:
    """The server settings shared by both modes."""
    config = Config()
    config.bind = [f"{settings.web_host}:{settings.web_port}"]
    config.accesslog = None
    config.errorlog = None  # hypercorn's lines go through our JSON root logger instead
    config.graceful_timeout = settings.shutdown_timeout_s
    # Longer than a load balancer's idle timeout (60 s on AWS ALB), so the proxy, not
    # us, closes idle keep-alive connections and never sends on one we just closed.
    config.keep_alive_timeout = 75
    return config


async def serve_forever(settings: Settings) -> None:
    """Run Hypercorn in this process on `ALGO_WEB_HOST:ALGO_WEB_PORT`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(create_app(settings), hypercorn_config(settings), shutdown_trigger=stop.wait)


def main() -> None:
    """Entry point of `algo web` / `python -m web`."""
    settings = Settings()
    configure_logging("web", settings.log_level, json_lines=settings.log_json)
    if settings.web_workers == 1:
        aio.run(serve_forever(settings))
        return
    config = hypercorn_config(settings)
    config.workers = settings.web_workers
    config.application_path = "web.asgi:app"
    config.worker_class = "uvloop"
    raise SystemExit(run_workers(config))
