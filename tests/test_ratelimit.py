"""Rate limits: 429 with Retry-After, per IP and per account; fail closed without Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis

from core.embedded.nats_server import EmbeddedNats
from core.embedded.redis_server import EmbeddedRedis
from core.embedded.stack import Endpoints
from core.ratelimit import Rate, RateLimiter
from tests.conftest import make_settings
from tests.stubs import PASSWORD, bearer, register, signup
from web.app import create_app
from web.ratelimit import ip_bucket


@pytest.fixture
async def strict_client(endpoints: Endpoints, tmp_path: Path) -> AsyncIterator[HttpClient]:
    settings = make_settings(endpoints, tmp_path, ratelimit_login_ip="4/60",
                             ratelimit_login_account="3/300", ratelimit_auth_ip="5/60",
                             ratelimit_user="6/60", ratelimit_ip="1000/60")
    app: Quart = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def _login(client: HttpClient, email: str) -> int:
    response = await client.post("/auth/login", json={"email": email, "password": "wrong-pw"})
    return response.status_code


async def test_successful_logins_do_not_use_up_the_account_limit(
        strict_client: HttpClient) -> None:
    await register(strict_client, "owner@example.com")
    for _ in range(3):
        ok = await strict_client.post("/auth/login", json={"email": "owner@example.com",
                                                           "password": PASSWORD})
        assert ok.status_code == 200
    assert await _login(strict_client, "owner@example.com") == 401


async def test_login_per_account_limit(strict_client: HttpClient) -> None:
    await register(strict_client, "target@example.com")
    codes = [await _login(strict_client, "target@example.com") for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    # Once the guesser has used the allowance, even the right password waits.
    right = await strict_client.post("/auth/login", json={"email": "target@example.com",
                                                          "password": PASSWORD})
    assert right.status_code == 429
    response = await strict_client.post("/auth/login", json={"email": "TARGET@example.com",
                                                             "password": "wrong-pw"})
    assert response.status_code == 429
    body = await response.get_json()
    assert body["error_code"] == "SYS_005"
    assert set(body) == {"error_code", "message", "details", "trace_id"}
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= 100


async def test_login_per_ip_limit(strict_client: HttpClient) -> None:
    codes = [await _login(strict_client, f"user{i}@example.com") for i in range(5)]
    assert codes == [401, 401, 401, 401, 429]


def test_ipv6_clients_are_limited_by_their_64() -> None:
    assert ip_bucket("2001:db8:1:2:aaaa::1") == ip_bucket("2001:db8:1:2:bbbb::9")
    assert ip_bucket("2001:db8:1:2::1") != ip_bucket("2001:db8:1:3::1")
    assert ip_bucket("203.0.113.7") == "203.0.113.7"
    assert ip_bucket("<local>") == "<local>"


async def test_auth_group_per_ip_limit(strict_client: HttpClient) -> None:
    codes = []
    for i in range(6):
        response = await strict_client.post("/auth/forgot-password",
                                            json={"email": f"u{i}@example.com"})
        codes.append(response.status_code)
    assert codes == [202] * 5 + [429]


async def test_per_user_limit(strict_client: HttpClient) -> None:
    tokens = await signup(strict_client, "busy@example.com")
    codes = [(await strict_client.get("/auth/me", headers=bearer(tokens["access_token"])))
             .status_code for _ in range(7)]
    assert codes == [200] * 6 + [429]


async def test_health_is_never_limited(strict_client: HttpClient) -> None:
    for _ in range(20):
        assert (await strict_client.get("/health/live")).status_code == 200


async def test_gcra_allows_burst_then_spaces(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    rate = Rate(limit=3, window_s=60)
    decisions = [await limiter.hit("t", "k", rate) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 15 <= decisions[-1].retry_after_s <= 20  # one slot every 20 s
    assert (await limiter.hit("t", "other", rate)).allowed


async def test_auth_limits_fail_closed_when_redis_is_down(
        fragile_client: HttpClient,
        private_servers: tuple[EmbeddedNats, EmbeddedRedis]) -> None:
    await register(fragile_client, "x@example.com")
    _, redis = private_servers
    redis.stop()
    response = await fragile_client.post("/auth/login", json={"email": "x@example.com",
                                                              "password": PASSWORD})
    assert response.status_code == 503
    body = await response.get_json()
    assert body["error_code"] == "SYS_004"
    assert body["details"] == {"component": "redis"}


@pytest.fixture
async def ip_strict_client(endpoints: Endpoints, tmp_path: Path) -> AsyncIterator[HttpClient]:
    settings = make_settings(endpoints, tmp_path, ratelimit_ip="5/60",
                             ratelimit_user="1000/60", ratelimit_auth_ip="1000/60",
                             ratelimit_login_ip="1000/60")
    app: Quart = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def test_the_per_ip_limit_holds_on_authenticated_routes(
        ip_strict_client: HttpClient) -> None:
    """Counted in authentication's round trip, it still refuses the sixth request."""
    tokens = await signup(ip_strict_client, "ip@example.com")
    codes = [(await ip_strict_client.get("/auth/me", headers=bearer(tokens["access_token"])))
             .status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


async def test_requests_that_never_authenticate_count_against_the_ip(
        ip_strict_client: HttpClient) -> None:
    """No token, a forged one, a query string refused before authentication: each counts."""
    await signup(ip_strict_client, "forger@example.com")
    codes = [(await ip_strict_client.get("/auth/me")).status_code,
             (await ip_strict_client.get("/auth/me", headers=bearer("not.a.jwt"))).status_code,
             (await ip_strict_client.get("/strategies?limit=0",
                                         headers=bearer("not.a.jwt"))).status_code]
    assert codes[:2] == [401, 401] and codes[2] in (400, 401)
    for _ in range(2):
        await ip_strict_client.get("/auth/me")
    assert (await ip_strict_client.get("/auth/me")).status_code == 429
