"""`get_current_user` and the permission guard for routes (ACC-6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Final, ParamSpec, TypeVar

from quart import g, request

from core import error_codes
from core.auth.principal import Principal
from core.auth.view_cache import IpLimit
from core.errors import AuthenticationFailed, PermissionDenied
from core.rbac import Permission
from core.repos.audit import Actor
from web.ratelimit import authenticates, client_ip, enforce, enforce_deferred
from web.resources import get_resources

P = ParamSpec("P")
R = TypeVar("R")

ACCESS_COOKIE: Final = "algo_access"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(ACCESS_COOKIE) or None


async def get_current_user() -> Principal:
    """The authenticated caller of this request (authenticated once per request)."""
    cached: Principal | None = g.get("principal")
    if cached is not None:
        return cached
    ip_limit: IpLimit | None = g.pop("ip_limit", None)
    token = _bearer()
    if token is None:
        await enforce_deferred(ip_limit)
        raise AuthenticationFailed(code=error_codes.AUTH_REQUIRED)
    authenticator = get_resources().services.authenticator
    try:
        claims = authenticator.verify(token)
    except AuthenticationFailed:
        await enforce_deferred(ip_limit)
        raise
    # The signature is good, so the user id is real: the same Redis round trip that checks
    # the denylist counts the request against the client IP's and the user's limits (ACC-7).
    principal = await authenticator.authenticate_claims(claims, ip=ip_limit)
    g.principal = principal
    return principal


def current_principal() -> Principal:
    """The principal set by `require` (inside a guarded route)."""
    principal: Principal = g.principal
    return principal


def actor() -> Actor:
    """The current caller as an audit actor."""
    principal = current_principal()
    return Actor(principal.user_id, principal.role.value, client_ip(),
                 request.headers.get("User-Agent"))


def require(permission: Permission) -> Callable[[Callable[P, Awaitable[R]]],
                                                  Callable[P, Awaitable[R]]]:
    """Guard a route: 401 without a valid token, 403 without `permission`."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = await get_current_user()
            if not principal.can(permission):
                raise PermissionDenied()
            return await func(*args, **kwargs)

        return authenticates(wrapper)

    return decorate


async def stream_principal() -> Principal:
    """The caller of an SSE request: a single-use `?ticket=` (for clients that cannot send
    headers), else the `Authorization` header or the access cookie."""
    ticket = request.args.get("ticket")
    if not ticket:
        return await get_current_user()
    principal = await get_resources().services.authenticator.redeem_ticket(ticket)
    await enforce("user", principal.user_id, fail_closed=False)
    g.principal = principal
    return principal


def require_stream(permission: Permission) -> Callable[[Callable[P, Awaitable[R]]],
                                                         Callable[P, Awaitable[R]]]:
    """`require` for SSE routes, which also accept a stream ticket."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = await stream_principal()
            if not principal.can(permission):
                raise PermissionDenied()
            return await func(*args, **kwargs)

        return wrapper

    return decorate
