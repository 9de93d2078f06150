"""The Redis pool: one client per process, with timeouts so a dead server fails fast."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str, *, timeout_s: float = 2.0) -> Redis:
    """A pooled asyncio client that decodes responses to `str`."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        health_check_interval=30,
        max_connections=64,
    )
