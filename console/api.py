"""The admin API as the console uses it: one typed client over `httpx.AsyncClient`.

Every path and JSON shape the console depends on is here (and in `console/models.py`), so
following a change of the web app's admin API is a change in this module. The client logs
in with an admin account, refreshes the access token shortly before it expires and again
on a 401, and serialises refreshes (a rotated refresh token used twice revokes the
session, DESIGN §7).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import httpx
import msgspec

from console.errors import ApiError, ApiUnreachable, EndpointMissing, LoginRequired
from console.models import (
    AuditEntry,
    DlqEntry,
    ErrorEntry,
    ForceStop,
    Halt,
    HaltList,
    HealthView,
    MetricsView,
    OrderLogEntry,
    Page,
    Strategy,
    StrategyDetail,
    TokenPair,
    TokenUser,
    User,
    UserDetail,
)
from console.shapes import health_view, metrics_view

T = TypeVar("T")
Params = Mapping[str, str | int | bool | None]

REFRESH_MARGIN_S: Final = 60.0
"""Refresh this long before the access token expires (at most a fifth of its life)."""
ADMIN_ROLE: Final = "admin"
ROUTE_NOT_FOUND: Final = "Resource not found"
"""The message of a 404 from the router (a missing object's 404 names the object)."""


def _query(params: Params | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None or value == "":
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def error_of(response: httpx.Response) -> ApiError:
    """The typed error of an error answer (its catalogued body when it has one)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("error_code") or f"HTTP_{response.status_code}")
    message = str(body.get("message") or response.reason_phrase or "error")
    cls = ApiError
    if response.status_code == 401:
        cls = LoginRequired
    elif response.status_code == 405 or (response.status_code == 404 and not body.get("details")
                                         and message == ROUTE_NOT_FOUND):
        cls = EndpointMissing  # the router's own answer: no such route on this server
    return cls(response.status_code, code, message, body.get("details"), body.get("trace_id"))


class AdminApi:
    """The web app's admin API for one logged-in admin."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s,
                                      headers={"User-Agent": "algo-console"})
        self._clock = clock
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = 0.0
        self._margin = 0.0
        self.account: TokenUser | None = None
        self.refreshes = 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    # --- session ---------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        """True while the client holds a session."""
        return self._access is not None

    async def login(self, email: str, password: str) -> TokenUser:
        """Log in; only an admin account may use the console."""
        pair = await self._token_call("/auth/login", {"email": email, "password": password})
        if pair.user.role != ADMIN_ROLE:
            raise ApiError(403, "AUTH_002", "The console needs an admin account")
        self._adopt(pair)
        return pair.user

    async def logout(self) -> None:
        """End the session at the server (best effort) and forget the tokens."""
        if self._access is not None:
            with contextlib.suppress(ApiError, ApiUnreachable):
                await self._send("POST", "/auth/logout",
                                 json={"refresh_token": self._refresh_token})
        self._access = self._refresh_token = None
        self.account = None

    async def access_token(self) -> str:
        """A valid access token, refreshed first when it is about to expire."""
        token = self._access
        if token is None:
            raise LoginRequired(401, "AUTH_001", "Log in first")
        if self._clock() >= self._expires_at - self._margin:
            return await self.refresh(stale=token)
        return token

    async def refresh(self, *, stale: str) -> str:
        """Rotate the tokens unless another task already replaced `stale`."""
        async with self._lock:
            if self._access is not None and self._access != stale:
                return self._access
            if self._refresh_token is None:
                raise LoginRequired(401, "AUTH_001", "Log in first")
            try:
                pair = await self._token_call("/auth/refresh",
                                              {"refresh_token": self._refresh_token})
            except LoginRequired:
                self._access = self._refresh_token = None
                raise
            self._adopt(pair)
            self.refreshes += 1
            return pair.access_token

    def _adopt(self, pair: TokenPair) -> None:
        self._access, self._refresh_token = pair.access_token, pair.refresh_token
        self._margin = min(REFRESH_MARGIN_S, pair.expires_in / 5)
        self._expires_at = self._clock() + pair.expires_in
        self.account = pair.user

    async def _token_call(self, path: str, body: dict[str, str]) -> TokenPair:
        try:
            response = await self.http.post(path, json=body)
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"{self.base_url}: {exc!r}") from exc
        if response.status_code >= 400:
            raise error_of(response)
        return msgspec.json.decode(response.content, type=TokenPair)

    # --- requests --------------------------------------------------------------------

    async def _send(self, method: str, path: str, *, params: Params | None = None,
                    json: Any = None) -> httpx.Response:
        token = await self.access_token()
        response = await self._once(method, path, token, params, json)
        if response.status_code == 401:
            # Not authenticated means nothing was done: safe to repeat with a new token.
            response = await self._once(method, path, await self.refresh(stale=token),
                                        params, json)
        if response.status_code >= 400:
            raise error_of(response)
        return response

    async def _once(self, method: str, path: str, token: str, params: Params | None,
                    json: Any) -> httpx.Response:
        try:
            return await self.http.request(method, path, params=_query(params), json=json,
                                           headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"{method} {path}: {exc!r}") from exc

    async def _get(self, path: str, kind: type[T], params: Params | None = None) -> T:
        response = await self._send("GET", path, params=params)
        return msgspec.json.decode(response.content, type=kind)

    async def _json(self, path: str) -> dict[str, Any]:
        body = (await self._send("GET", path)).json()
        return body if isinstance(body, dict) else {"value": body}

    # --- users (ADM-1) -----------------------------------------------------------------

    async def users(self, *, q: str | None = None, role: str | None = None,
                    is_active: bool | None = None, cursor: str | None = None,
                    limit: int = 50) -> Page[User]:
        """Users newest first, by e-mail substring, role and active flag."""
        return await self._get("/admin/users", Page[User],
                               {"q": q, "role": role, "is_active": is_active,
                                "cursor": cursor, "limit": limit})

    async def user(self, user_id: str) -> UserDetail:
        """One user with their strategy count."""
        return await self._get(f"/admin/users/{user_id}", UserDetail)

    async def update_user(self, user_id: str, *, role: str | None = None,
                          is_active: bool | None = None) -> UserDetail:
        """Change a user's role and/or active flag."""
        body = {k: v for k, v in (("role", role), ("is_active", is_active)) if v is not None}
        response = await self._send("PUT", f"/admin/users/{user_id}", json=body)
        return msgspec.json.decode(response.content, type=UserDetail)

    async def delete_user(self, user_id: str) -> None:
        """Soft-delete a user (their strategies stop, their sessions end)."""
        await self._send("DELETE", f"/admin/users/{user_id}")

    # --- strategies (ADM-2) ------------------------------------------------------------

    async def strategies(self, filters: Params | None = None, *, cursor: str | None = None,
                         limit: int = 50) -> Page[Strategy]:
        """Every user's strategies, filtered (status, user_id, symbol, ...)."""
        return await self._get("/admin/strategies", Page[Strategy],
                               {**(filters or {}), "cursor": cursor, "limit": limit})

    async def strategy(self, strategy_id: str) -> StrategyDetail:
        """One strategy with its order history."""
        return await self._get(f"/admin/strategies/{strategy_id}", StrategyDetail)

    async def force_stop(self, strategy_id: str, reason: str) -> ForceStop:
        """Square off the position, then stop the strategy."""
        response = await self._send("POST", f"/admin/strategies/{strategy_id}/force-stop",
                                    json={"reason": reason})
        return msgspec.json.decode(response.content, type=ForceStop)

    # --- logs (ADM-4, ADM-5) -----------------------------------------------------------

    async def order_logs(self, filters: Params | None = None, *, cursor: int | None = None,
                         limit: int = 100) -> Page[OrderLogEntry]:
        """Broker interactions of every user's orders, newest first."""
        return await self._get("/admin/logs/orders", Page[OrderLogEntry],
                               {**(filters or {}), "cursor": cursor, "limit": limit})

    async def error_logs(self, filters: Params | None = None, *, cursor: int | None = None,
                         limit: int = 100) -> Page[ErrorEntry]:
        """Persisted ERROR/CRITICAL records, newest first."""
        return await self._get("/admin/logs/errors", Page[ErrorEntry],
                               {**(filters or {}), "cursor": cursor, "limit": limit})

    async def audit(self, filters: Params | None = None, *, cursor: str | None = None,
                    limit: int = 100) -> Page[AuditEntry]:
        """The audit log of admin actions, newest first."""
        return await self._get("/admin/audit", Page[AuditEntry],
                               {**(filters or {}), "cursor": cursor, "limit": limit})

    # --- dead letters ------------------------------------------------------------------

    async def dlq(self, *, cursor: int | None = None, limit: int = 100) -> Page[DlqEntry]:
        """Dead-lettered commands, oldest first."""
        return await self._get("/admin/dlq", Page[DlqEntry], {"cursor": cursor, "limit": limit})

    async def dlq_entry(self, seq: int) -> DlqEntry:
        """One dead letter with its command."""
        return await self._get(f"/admin/dlq/{seq}", DlqEntry)

    async def dlq_retry(self, seq: int) -> DlqEntry:
        """Send a dead letter back to the executor once (a new attempt record)."""
        response = await self._send("POST", f"/admin/dlq/{seq}/retry")
        return msgspec.json.decode(response.content, type=DlqEntry)

    async def dlq_discard(self, seq: int) -> None:
        """Drop a dead letter."""
        await self._send("DELETE", f"/admin/dlq/{seq}")

    # --- system (ADM-3, RUN-8) ---------------------------------------------------------

    async def health(self) -> HealthView:
        """Every component and pipeline role, with heartbeats and consumer lag."""
        return health_view(await self._json("/admin/system/health"))

    async def metrics(self) -> MetricsView:
        """Platform counters for the dashboard."""
        return metrics_view(await self._json("/admin/system/metrics"))

    async def halts(self) -> list[Halt]:
        """Every engaged kill switch."""
        return (await self._get("/admin/system/halt", HaltList)).items

    async def engage_halt(self, scope: str, reason: str) -> Halt:
        """Engage the kill switch for `global` or a user id."""
        response = await self._send("POST", "/admin/system/halt",
                                    json={"scope": scope, "reason": reason})
        return msgspec.json.decode(response.content, type=Halt)

    async def release_halt(self, scope: str) -> None:
        """Release the kill switch of `scope`."""
        await self._send("DELETE", f"/admin/system/halt/{scope}")
