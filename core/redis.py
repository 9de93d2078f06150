"""The Redis pool: one client per process, with timeouts so a dead server fails fast."""

from __future__ import annotations

import ssl
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis


def create_redis(url: str, *, timeout_s: float = 2.0, max_connections: int = 64) -> Redis:
    """A pooled asyncio client that decodes responses to `str`.

    The pool blocks (up to `timeout_s`) when every connection is busy instead of failing:
    under a burst of requests a caller waits for a connection rather than getting an error.
    """
    tls: dict[str, Any] = {}
    if url.startswith("rediss://") and "ssl_min_version" not in url:
        # `rediss://…?ssl_ca_certs=PATH` verifies against PATH (redis-py reads the URL's
        # ssl_* options itself); TLS 1.2 is our floor (SEC-005).
        tls["ssl_min_version"] = ssl.TLSVersion.TLSv1_2
    pool = BlockingConnectionPool.from_url(
        url,
        **tls,
        decode_responses=True,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        health_check_interval=30,
        max_connections=max_connections,
        timeout=timeout_s,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it
