"""Serve the app with Hypercorn until SIGTERM or SIGINT, then shut down gracefully.

One process by default. With `ALGO_WEB_WORKERS=N` this process supervises N worker
processes that each bind the port with SO_REUSEPORT, so the kernel spreads connections
evenly across them (a shared listening socket lets one busy worker take most of them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from types import FrameType

from hypercorn.asyncio import serve
from hypercorn.config import Config

from core import aio
from core.logging import cloudwatch_target, configure_logging
from core.settings import Settings, SettingsError
from web.app import create_app
from web.transport import SecureTransport, TransportPolicy, check_plain_http_allowed


class _Config(Config):
    """Hypercorn's config with TLS 1.2 as the floor stated here, not left to its default."""

    def create_ssl_context(self) -> ssl.SSLContext | None:
        context = super().create_ssl_context()
        if context is not None:
            context.minimum_version = max(context.minimum_version, ssl.TLSVersion.TLSv1_2)
        return context


def hypercorn_config(settings: Settings) -> Config:
    """Hypercorn's settings for one serving process (HTTPS only when a certificate is set)."""
    config = _Config()
    if settings.web_reuse_port:
        sock = socket.socket(socket.AF_INET6 if ":" in settings.web_host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((settings.web_host, settings.web_port))
        sock.set_inheritable(True)
        config.bind = [f"fd://{sock.detach()}"]
    else:
        config.bind = [f"{settings.web_host}:{settings.web_port}"]
    if settings.tls_enabled:
        config.certfile = str(settings.tls_cert)
        config.keyfile = str(settings.tls_key)
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
    await serve(asgi_app(settings), hypercorn_config(settings), shutdown_trigger=stop.wait)


def asgi_app(settings: Settings) -> SecureTransport:
    """The app behind the transport policy (proxy headers, HTTPS-only, HSTS, cookies)."""
    return SecureTransport(create_app(settings), TransportPolicy.from_settings(settings))


def metrics_dir(settings: Settings) -> Path:
    """An empty directory for the workers' Prometheus metric files (prometheus-client's
    multiprocess mode): the counts of an earlier run must not carry over."""
    path = (settings.data_dir / "prometheus").resolve()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def supervise(settings: Settings) -> int:
    """Run `web_workers` serving processes; pass SIGTERM/SIGINT on; return when all ended."""
    env = dict(os.environ, ALGO_WEB_WORKERS="1", ALGO_WEB_REUSE_PORT="true",
               PROMETHEUS_MULTIPROC_DIR=str(metrics_dir(settings)))
    workers = [subprocess.Popen([sys.executable, "-m", "web"], env=env)
               for _ in range(settings.web_workers)]

    def forward(signum: int, frame: FrameType | None) -> None:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [worker.wait() for worker in workers]
    return max(codes, default=0)


def main() -> None:
    """Entry point of `algo web` / `python -m web`."""
    settings = Settings()
    configure_logging("web", settings.log_level, json_lines=settings.log_json,
                      cloudwatch=cloudwatch_target(settings))
    try:
        check_plain_http_allowed(settings)
    except SettingsError as exc:
        raise SystemExit(str(exc)) from exc
    if settings.web_workers > 1:
        raise SystemExit(supervise(settings))
    aio.run(serve_forever(settings))
