"""The account view reused between requests (core/auth/view_cache.py): a change made
through the product reaches every web process on its next request, a lost epoch forces a
fresh read, and the reuse has a hard time limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys
from core.auth.view_cache import AuthViewCache
from core.db.models import User
from core.errors import Unavailable
from core.repos.users import AuthView
from core.settings import Settings
from tests.stubs import bearer, make_admin, signup
from web.app import create_app


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[HttpClient]:
    """A second web process on the same servers (its own account views)."""
    async with create_app(settings).test_app() as test_app:
        yield test_app.test_client()


async def test_a_demoted_admin_loses_admin_access_in_every_process_at_once(
        client: HttpClient, other: HttpClient,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    root = await make_admin(client, sessions)
    deputy = await make_admin(client, sessions, "deputy@example.com")
    # The other process has read (and keeps) the deputy's account as an admin's.
    for _ in range(2):
        assert (await other.get("/admin/users", headers=bearer(deputy["access_token"]))
                ).status_code == 200
    demoted = await client.put(f"/admin/users/{deputy['user']['id']}",
                               headers=bearer(root["access_token"]), json={"role": "user"})
    assert demoted.status_code == 200, await demoted.get_data()
    refused = await other.get("/admin/users", headers=bearer(deputy["access_token"]))
    assert refused.status_code == 403
    me = await (await other.get("/auth/me", headers=bearer(deputy["access_token"]))).get_json()
    assert me["role"] == "user"


async def test_the_view_is_read_again_when_the_epoch_is_lost(
        client: HttpClient, redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> None:
    tokens = await signup(client, "epoch@example.com")
    user_id = tokens["user"]["id"]
    assert (await client.get("/auth/me", headers=bearer(tokens["access_token"]))
            ).status_code == 200
    # A change behind the product's back (plain SQL) is not announced: the view is reused…
    async with sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == user_id).values(is_active=False))
    assert (await client.get("/auth/me", headers=bearer(tokens["access_token"]))
            ).status_code == 200
    # …until the epoch changes; losing it (a Redis restart, an eviction) is such a change.
    await redis.delete(redis_keys.auth_epoch(user_id))
    gone = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert gone.status_code == 401
    assert (await gone.get_json())["error_code"] == "AUTH_008"


def _view(user_id: str) -> AuthView:
    return AuthView(id=user_id, email="a@example.com", role="user", is_active=True,
                    deleted_at=None, password_changed_at=None,
                    created_at=datetime(2026, 1, 1, tzinfo=UTC), last_login_at=None)


def test_a_view_is_reused_only_under_its_epoch_and_within_the_ttl() -> None:
    now = [100.0]
    cache = AuthViewCache(ttl_s=30.0, capacity=2, clock=lambda: now[0])
    cache.put("usr_a", "e1", _view("usr_a"))
    assert cache.get("usr_a", "e1") == _view("usr_a")
    assert cache.get("usr_a", "e2") is None
    assert cache.get("usr_a", "e1") is None  # a mismatch forgets the entry
    cache.put("usr_a", "e1", _view("usr_a"))
    now[0] += 30.0
    assert cache.get("usr_a", "e1") is None
    cache.put("usr_a", "e1", _view("usr_a"))
    cache.put("usr_b", "e1", _view("usr_b"))
    cache.put("usr_c", "e1", _view("usr_c"))  # past capacity: everything else forgotten
    assert cache.get("usr_a", "e1") is None
    assert cache.get("usr_c", "e1") == _view("usr_c")


async def test_a_deactivation_redis_refuses_changes_nothing_and_its_retry_ends_the_sessions(
        app: Quart, client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    """The sessions a deactivation ends are refused in Redis before its commit: when Redis
    fails there, the account stays as it was, so the admin's retry finds the same sessions
    (after the commit, the retry would find none left to refuse)."""
    root = await make_admin(client, sessions)
    trader = await signup(client, "leaving@example.com")
    authenticator = app.extensions["algo.resources"].services.authenticator
    real = authenticator.revoke_sessions
    calls: list[list[str]] = []

    async def refuse_once(session_ids: Iterable[str]) -> None:
        calls.append(list(session_ids))
        if len(calls) == 1:
            raise Unavailable("Authentication store unavailable",
                              details={"component": "redis"})
        await real(session_ids)

    authenticator.revoke_sessions = refuse_once
    path, admin = f"/admin/users/{trader['user']['id']}", bearer(root["access_token"])
    failed = await client.put(path, headers=admin, json={"is_active": False})
    assert failed.status_code == 503
    detail = await (await client.get(path, headers=admin)).get_json()
    assert detail["is_active"] is True
    assert (await client.get("/auth/me", headers=bearer(trader["access_token"]))
            ).status_code == 200
    retried = await client.put(path, headers=admin, json={"is_active": False})
    assert retried.status_code == 200
    assert calls[1] == calls[0] != []
    assert (await client.get("/auth/me", headers=bearer(trader["access_token"]))
            ).status_code == 401


async def test_a_stream_of_a_demoted_admin_ends_at_its_next_check(
        app: Quart, client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Long-lived streams re-check their principal: a role change ends them, as a
    revocation does (the SSE loop asks `still_valid` at every heartbeat)."""
    root = await make_admin(client, sessions)
    deputy = await make_admin(client, sessions, "deputy@example.com")
    authenticator = app.extensions["algo.resources"].services.authenticator
    streaming = await authenticator.authenticate(deputy["access_token"])
    bystander = await authenticator.authenticate(root["access_token"])
    assert await authenticator.still_valid(streaming)
    demoted = await client.put(f"/admin/users/{deputy['user']['id']}",
                               headers=bearer(root["access_token"]), json={"role": "user"})
    assert demoted.status_code == 200
    assert not await authenticator.still_valid(streaming)
    assert await authenticator.still_valid(bystander)
