"""Rate limits on routes: per IP by route group, per user after authentication (ACC-7).

Groups: `api` (everything by default), `auth` (register, refresh, password reset) and
`login` (plus a per-account limit in the route). Auth groups fail closed (503) when Redis
is down; the others let the request through and log it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable
from typing import Final, TypeVar

from quart import Quart, Response, current_app, g, request
from redis.exceptions import RedisError

from core import error_codes
from core.auth.view_cache import IpLimit
from core.errors import RateLimited, Unavailable
from core.ratelimit import Rate
from core.settings import Settings, parse_rate
from web.resources import get_resources

log = logging.getLogger("algo.web.ratelimit")

F = TypeVar("F", bound=Callable[..., object])

_ATTR: Final = "_algo_rate_group"
_AUTHENTICATES: Final = "_algo_authenticates"
FAIL_CLOSED: Final = frozenset({"auth", "login"})
_EXEMPT_PREFIXES: Final = ("/health", "/openapi.json", "/docs")


def rate_group(group: str) -> Callable[[F], F]:
    """Put a route in a rate-limit group (default `api`)."""

    def mark(func: F) -> F:
        setattr(func, _ATTR, group)
        return func

    return mark


def rates(settings: Settings) -> dict[str, Rate]:
    """The configured rates by name (parsed once per settings object)."""
    cached = _parsed.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    names = {"api": settings.ratelimit_ip, "user": settings.ratelimit_user,
             "auth": settings.ratelimit_auth_ip, "login": settings.ratelimit_login_ip,
             "login_account": settings.ratelimit_login_account}
    parsed = {k: Rate(*parse_rate(v)) for k, v in names.items()}
    _parsed[id(settings)] = (settings, parsed)
    return parsed


_parsed: dict[int, tuple[Settings, dict[str, Rate]]] = {}


async def enforce(scope: str, key: str, *, fail_closed: bool, record: bool = True) -> None:
    """Count one request in `scope` for `key` (or only check, with `record=False`);
    raise 429, or 503 when Redis is down and the limit fails closed."""
    res = get_resources()
    rate = rates(res.settings)[scope]
    limiter = res.services.limiter
    try:
        decision = await (limiter.hit if record else limiter.peek)(scope, key, rate)
    except RedisError as exc:
        if fail_closed:
            raise Unavailable("Rate limiter unavailable",
                              details={"component": "redis"}) from exc
        log.warning("rate limiter unavailable; request allowed", extra={"scope": scope})
        return
    if not decision.allowed:
        raise RateLimited(decision.retry_after_s, code=error_codes.SYS_RATE_LIMITED)


def client_ip() -> str:
    """The caller's address (proxies are trusted only once TLS termination is configured)."""
    return request.remote_addr or "unknown"


def ip_bucket(address: str) -> str:
    """The rate-limit key of an address: IPv6 by /64, since one client holds a whole /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def authenticates(func: F) -> F:
    """Mark a route that authenticates its caller first thing (`web.security.require`):
    its per-IP limit is counted in authentication's own Redis round trip."""
    setattr(func, _AUTHENTICATES, True)
    return func


async def enforce_deferred(limit: IpLimit | None) -> None:
    """Count a deferred per-IP limit on its own (the request will not authenticate)."""
    if limit is not None:
        await enforce(limit.scope, limit.bucket, fail_closed=False)


def register_rate_limits(app: Quart) -> None:
    """Apply the per-IP limit of each route's group before it runs; for a route that
    authenticates (fail-open groups only), leave it in `g.ip_limit` for the gate."""

    @app.before_request
    async def _per_ip() -> None:
        if request.path.startswith(_EXEMPT_PREFIXES):
            return
        view = current_app.view_functions.get(request.endpoint or "")
        group = getattr(view, _ATTR, "api") if view is not None else "api"
        bucket = ip_bucket(client_ip())
        if getattr(view, _AUTHENTICATES, False) and group not in FAIL_CLOSED:
            g.ip_limit = IpLimit(group, bucket, rates(get_resources().settings)[group])
            return
        await enforce(group, bucket, fail_closed=group in FAIL_CLOSED)

    @app.after_request
    async def _count_what_was_deferred(response: Response) -> Response:
        # A request refused before it authenticated (a bad query string, say) still
        # counts, so that the next ones are limited.
        limit: IpLimit | None = g.pop("ip_limit", None)
        if limit is not None:
            with contextlib.suppress(RateLimited):
                await enforce_deferred(limit)
        return response
