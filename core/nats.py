"""The NATS connection helper: one connection per process, reconnecting for ever."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client

log = logging.getLogger("algo.nats")


async def connect_nats(url: str, *, name: str, connect_timeout_s: float = 2.0) -> Client:
    """Connect to `url` (comma-separated for a cluster) and keep reconnecting after that."""

    closing: list[Client] = []

    async def _disconnected() -> None:
        # A drain at shutdown disconnects too; only an unplanned loss is worth a warning.
        level = logging.INFO if closing and closing[0].is_closed else logging.WARNING
        log.log(level, "nats disconnected", extra={"nats_client": name})

    async def _reconnected() -> None:
        log.info("nats reconnected", extra={"nats_client": name})

    async def _error(exc: Exception) -> None:
        log.warning("nats error: %s", exc, extra={"nats_client": name})

    nc = await nats.connect(
        servers=[u.strip() for u in url.split(",") if u.strip()],
        name=name,
        connect_timeout=connect_timeout_s,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        error_cb=_error,
    )
    closing.append(nc)
    return nc
