"""HTTPS for the web process (SEC-005): who may say a request came over TLS, and what every
response then carries.

`algo web` serves TLS itself (`ALGO_TLS_CERT`/`ALGO_TLS_KEY`, TLS 1.2 minimum) or sits behind a
TLS-terminating proxy named by `ALGO_TRUSTED_PROXY`. `SecureTransport` wraps the ASGI app:
- `X-Forwarded-For/-Proto/-Host` are honoured only when the TCP peer is a trusted proxy
  (anyone else could forge them); the client is the right-most address no trusted proxy owns;
- outside `ALGO_ENV=dev`, with a proxy declared, a request that did not come over HTTPS is
  refused (health probes and /metrics excepted: load balancers and scrapers call them
  directly); without TLS and without a proxy the server refuses to start at all;
- over HTTPS every response carries `Strict-Transport-Security`;
- every cookie a response sets gets HttpOnly, SameSite=Lax and (over HTTPS or outside dev)
  Secure, whatever the handler forgot.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from core import error_codes
from core.settings import IPNetwork, Settings, SettingsError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

_EXEMPT_PREFIXES = ("/health/", "/metrics")


@dataclass(frozen=True)
class TransportPolicy:
    """What `SecureTransport` enforces, derived once from the settings."""

    proxies: tuple[IPNetwork, ...] = ()
    require_https: bool = False
    hsts_max_age_s: int = 365 * 24 * 3600
    secure_cookies_always: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> TransportPolicy:
        """The policy of `settings` (dev is lenient; elsewhere HTTPS is required)."""
        prod_like = settings.env != "dev"
        return cls(proxies=settings.trusted_proxy_networks,
                   require_https=prod_like and bool(settings.trusted_proxy_networks),
                   hsts_max_age_s=settings.hsts_max_age_s,
                   secure_cookies_always=prod_like)

    def trusts(self, address: str | None) -> bool:
        """True if `address` belongs to a declared proxy."""
        if not address or not self.proxies:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)


def check_plain_http_allowed(settings: Settings) -> None:
    """Refuse to serve plain HTTP outside dev unless a TLS-terminating proxy is declared."""
    if settings.env != "dev" and not settings.tls_enabled and not settings.trusted_proxy:
        raise SettingsError(
            "refusing to serve plain HTTP outside ALGO_ENV=dev: set ALGO_TLS_CERT and "
            "ALGO_TLS_KEY, or ALGO_TRUSTED_PROXY to the TLS-terminating proxy in front")


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name]
    return ",".join(values) if values else None


def forwarded_scope(scope: Scope, policy: TransportPolicy) -> Scope:
    """`scope` with client, scheme and host taken from a trusted proxy's headers."""
    peer = (scope.get("client") or (None, 0))[0]
    if not policy.trusts(peer):
        return scope
    scope = dict(scope)
    chain = [part.strip() for part in (_header(scope, b"x-forwarded-for") or "").split(",")
             if part.strip()]
    # Right to left: each trusted hop vouches for the address before it.
    client = peer
    while chain and policy.trusts(client):
        client = chain.pop()
    scope["client"] = (client, 0)
    proto = _header(scope, b"x-forwarded-proto")
    if proto:
        scope["scheme"] = proto.split(",")[0].strip().lower()
    host = _header(scope, b"x-forwarded-host")
    if host:
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"]
        scope["headers"].append((b"host", host.split(",")[0].strip().encode("latin-1")))
    return scope


def harden_cookie(value: bytes, *, secure: bool) -> bytes:
    """A Set-Cookie value with HttpOnly, SameSite and (if `secure`) Secure added if missing."""
    attributes = {part.strip().split(b"=")[0].lower() for part in value.split(b";")[1:]}
    extra = b""
    if b"httponly" not in attributes:
        extra += b"; HttpOnly"
    if b"samesite" not in attributes:
        extra += b"; SameSite=Lax"
    if secure and b"secure" not in attributes:
        extra += b"; Secure"
    return value + extra


class SecureTransport:
    """ASGI middleware applying a `TransportPolicy` (see the module docstring)."""

    def __init__(self, app: ASGIApp, policy: TransportPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Rewrite the scope, refuse plain HTTP where required, decorate the response."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = forwarded_scope(scope, self.policy)
        https = scope.get("scheme") in ("https", "wss")
        if (self.policy.require_https and not https
                and not scope.get("path", "").startswith(_EXEMPT_PREFIXES)):
            await _refuse(scope, send)
            return
        secure_cookies = https or self.policy.secure_cookies_always
        hsts = (f"max-age={self.policy.hsts_max_age_s}; includeSubDomains".encode()
                if https and self.policy.hsts_max_age_s else None)

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, harden_cookie(v, secure=secure_cookies)
                            if k.lower() == b"set-cookie" else v)
                           for k, v in message.get("headers", [])]
                if hsts is not None:
                    headers.append((b"strict-transport-security", hsts))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_secured)


async def _refuse(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"error_code": error_codes.SYS_HTTPS_REQUIRED.code,
                       "message": error_codes.SYS_HTTPS_REQUIRED.message,
                       "details": {}, "trace_id": None}).encode()
    await send({"type": "http.response.start", "status": error_codes.SYS_HTTPS_REQUIRED.status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
