"""Shared test helpers: waiting without sleeping, and builders."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.enums import Role
from core.repos import users
from core.security.passwords import hash_password


async def eventually(condition: Callable[[], Any], timeout: float = 5.0,
                     interval: float = 0.02, message: str = "condition") -> Any:
    """Poll `condition` (sync or async) until it returns a truthy value; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    last_exc: BaseException | None = None
    while True:
        try:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            last = result
            last_exc = None
            if result:
                return result
        except AssertionError as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{message} not met within {timeout}s (last value {last!r})") from last_exc
        await asyncio.sleep(interval)


PASSWORD = "s3cret-pass"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for an access token."""
    return {"Authorization": f"Bearer {token}"}


async def register(client: HttpClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """Register through the API; returns the user body."""
    response = await client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    return body


async def login(client: HttpClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """Log in through the API; returns the token body."""
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    return body


async def signup(client: HttpClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """Register and log in; returns the token body."""
    await register(client, email, password)
    return await login(client, email, password)


async def make_admin(client: HttpClient, sessions: async_sessionmaker[AsyncSession],
                     email: str = "root@example.com") -> dict[str, Any]:
    """An admin account (created in the database, as `algo admin create-user` does)."""
    async with sessions() as session, session.begin():
        await users.create_user(session, email=email, password_hash=hash_password(PASSWORD, 4),
                                role=Role.ADMIN)
    return await login(client, email)
