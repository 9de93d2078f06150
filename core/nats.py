"""The NATS connection helper: one connection per process, reconnecting for ever."""

from __future__ import annotations

import logging
import ssl
from urllib.parse import parse_qs, urlsplit, urlunsplit

import nats
from nats.aio.client import Client

log = logging.getLogger("algo.nats")


def split_tls(url: str) -> tuple[list[str], ssl.SSLContext | None]:
    """Server URLs without their query, and the TLS context their options ask for.

    `tls://host:4222` verifies the server against the system store (or `SSL_CERT_FILE`);
    `?tls_ca=PATH` names the CA instead, `&tls_cert=PATH&tls_key=PATH` adds a client
    certificate (mutual TLS). The options may sit on any one URL of a cluster list.
    """
    servers: list[str] = []
    options: dict[str, str] = {}
    for raw in (u.strip() for u in url.split(",")):
        if not raw:
            continue
        parts = urlsplit(raw)
        options.update({k: v[-1] for k, v in parse_qs(parts.query).items()})
        servers.append(urlunsplit(parts._replace(query="")))
    unknown = set(options) - {"tls_ca", "tls_cert", "tls_key"}
    if unknown:
        raise ValueError(f"unknown NATS URL option(s): {', '.join(sorted(unknown))}")
    if not options:
        return servers, None
    context = ssl.create_default_context(cafile=options.get("tls_ca"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if "tls_cert" in options:
        context.load_cert_chain(options["tls_cert"], options.get("tls_key"))
    return servers, context


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

    servers, tls = split_tls(url)
    nc = await nats.connect(
        servers=servers,
        tls=tls,
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
