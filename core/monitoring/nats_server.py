"""The NATS server's own monitoring endpoints (`/varz`, `/jsz`), read over HTTP.

The monitoring port has no authentication: it is bound to localhost (core/embedded,
nats.conf) and named by `ALGO_NATS_MONITOR_URL`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

VARZ_FIELDS: Final = (
    "server_id", "server_name", "version", "start", "now", "uptime", "mem", "cpu", "cores",
    "connections", "total_connections", "subscriptions", "slow_consumers", "in_msgs",
    "out_msgs", "in_bytes", "out_bytes", "max_payload", "max_connections")
JSZ_FIELDS: Final = (
    "memory", "storage", "reserved_memory", "reserved_storage", "streams", "consumers",
    "messages", "bytes", "api")


@dataclass(frozen=True, slots=True)
class ServerStats:
    """A selection of `/varz` and `/jsz`; `error` says why they are missing."""

    url: str | None
    ok: bool
    error: str | None = None
    varz: dict[str, Any] = field(default_factory=dict)
    jsz: dict[str, Any] = field(default_factory=dict)


class NatsMonitor:
    """One HTTP client for the monitoring port, opened and closed with the process."""

    def __init__(self, url: str | None, timeout_s: float) -> None:
        self.url = url.rstrip("/") if url else None
        self._client = httpx.AsyncClient(base_url=self.url, timeout=timeout_s) \
            if self.url else None

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            await self._client.aclose()

    async def _get(self, path: str, fields: tuple[str, ...]) -> dict[str, Any]:
        assert self._client is not None
        response = await self._client.get(path)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return {k: body[k] for k in fields if k in body}

    async def stats(self) -> ServerStats:
        """`/varz` and `/jsz`, or why not."""
        if self._client is None:
            return ServerStats(None, False, "ALGO_NATS_MONITOR_URL is not set")
        try:
            varz, jsz = await asyncio.gather(self._get("/varz", VARZ_FIELDS),
                                             self._get("/jsz", JSZ_FIELDS))
        except (httpx.HTTPError, ValueError) as exc:
            return ServerStats(self.url, False, f"{type(exc).__name__}: {exc}"[:300])
        return ServerStats(self.url, True, None, varz, jsz)
