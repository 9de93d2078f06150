"""A pooled HTTP client for broker REST APIs that knows how far a failed request got.

Every broker adapter sends through `BrokerHttp`. Timeouts are split so that the error
says whether the broker may have seen the request:

    failure                                   an order (mutating)    a read
    connect refused / DNS / TLS / timeout     NotSent                BrokerUnavailable
    no free pooled connection (pool timeout)  NotSent                BrokerUnavailable
    client already closed                     NotSent                BrokerUnavailable
    write timeout / write error               Ambiguous              BrokerUnavailable
    read timeout (request fully sent)         Ambiguous              BrokerUnavailable
    reset / server closed before answering    Ambiguous              BrokerUnavailable

An HTTP answer, whatever its status, is returned as is: what a 4xx or 5xx means is the
broker's own error model (each adapter's `errors.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx

from brokers.errors import Ambiguous, BrokerError, BrokerUnavailable, NotSent

log = logging.getLogger("algo.brokers.http")

QueryParams = Mapping[str, str | Sequence[str]]


class Call(Enum):
    """Whether a request can change anything at the broker."""

    READ = "read"
    ORDER = "order"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-phase timeouts in seconds. `read_s` starts once the request has been sent."""

    connect_s: float = 3.0
    read_s: float = 7.0
    write_s: float = 5.0
    pool_s: float = 2.0

    def for_httpx(self) -> httpx.Timeout:
        """The same, as httpx wants it."""
        return httpx.Timeout(connect=self.connect_s, read=self.read_s, write=self.write_s,
                             pool=self.pool_s)


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
             httpx.UnsupportedProtocol, httpx.ProxyError)
"""Failures that happen before a byte of the request leaves this process."""


def classify(exc: Exception, call: Call, what: str) -> BrokerError:
    """The broker error a transport failure of `call` amounts to."""
    detail = f"{what}: {type(exc).__name__}: {exc}".rstrip(": ")
    if call is Call.READ:
        return BrokerUnavailable(detail)
    if isinstance(exc, (*_NOT_SENT, RuntimeError)):
        return NotSent(detail)
    return Ambiguous(detail)


class QueryRedacted(logging.Filter):
    """httpx logs each request's URL (logger "httpx", INFO); some brokers take secrets in
    the query (Dhan's PIN + TOTP login), so its lines keep the path and drop the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's URL arguments; never drop a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(f"{str(a).partition('?')[0]}?…" if isinstance(a, httpx.URL)
                                and a.query else a for a in record.args)
        return True


def redact_request_urls() -> None:
    """Install QueryRedacted on httpx's logger (once)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, QueryRedacted) for f in logger.filters):
        logger.addFilter(QueryRedacted())


class BrokerHttp:
    """One keep-alive connection pool to one broker's REST root."""

    def __init__(self, base_url: str, *, timeouts: Timeouts | None = None,
                 headers: Mapping[str, str] | None = None, max_connections: int = 10,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        redact_request_urls()
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=(timeouts or Timeouts()).for_httpx(),
            headers=dict(headers or {}), transport=transport,
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections,
                                keepalive_expiry=60.0))

    @property
    def base_url(self) -> str:
        """The REST root."""
        return str(self._client.base_url)

    async def request(self, method: str, path: str, *, call: Call,
                      params: QueryParams | None = None, data: Mapping[str, Any] | None = None,
                      headers: Mapping[str, str] | None = None,
                      content: bytes | None = None) -> httpx.Response:
        """Send one request (a form in `data`, or a body already encoded in `content`);
        transport failures are raised as classified broker errors."""
        try:
            return await self._client.request(method, path, params=params, data=data,
                                              headers=headers, content=content)
        except (httpx.TransportError, RuntimeError) as exc:
            # httpx raises RuntimeError for a request on a closed client: nothing was sent.
            error = classify(exc, call, f"{method} {path}")
            log.info("broker request failed: %s", error.message)
            raise error from exc

    async def close(self) -> None:
        """Close the pool."""
        await self._client.aclose()


def retry_after_s(header: str | None, default: float = 1.0) -> float:
    """A `Retry-After` header in seconds (at least 0.1; `default` when absent or a date)."""
    try:
        return max(0.1, float(header)) if header else default
    except ValueError:
        return default
