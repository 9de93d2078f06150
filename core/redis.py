"""The Redis pool: one client per process, with timeouts so a dead server fails fast."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def create_redis(url: str, *, timeout_s: float = 2.0, max_connections: int = 64) -> Redis:
    """A pooled asyncio client that decodes responses to `str`.

    The pool blocks (up to `timeout_s`) when every connection is busy instead of failing:
    under a burst of requests a caller waits for a connection rather than getting an error.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        health_check_interval=30,
        max_connections=max_connections,
        timeout=timeout_s,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it
