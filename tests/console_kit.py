"""The console against the web app served on a real HTTP server: builders for its tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from textual.pilot import Pilot
from textual.widgets import DataTable

from console.api import AdminApi
from console.app import AdminConsole
from core.db.enums import Role
from core.repos import users
from core.security.passwords import hash_password
from tests.stubs import PASSWORD, eventually

ADMIN_EMAIL = "root@example.com"


async def create_admin(sessions: async_sessionmaker[AsyncSession],
                       email: str = ADMIN_EMAIL) -> None:
    """An admin account, made in the database as `algo admin create-user` does."""
    async with sessions() as session, session.begin():
        await users.create_user(session, email=email, password_hash=hash_password(PASSWORD, 4),
                                role=Role.ADMIN)


async def admin_client(url: str, email: str = ADMIN_EMAIL) -> httpx.AsyncClient:
    """An httpx client of `url` logged in as the admin (to check what the console did)."""
    http = httpx.AsyncClient(base_url=url, timeout=10)
    tokens = (await http.post("/auth/login", json={"email": email,
                                                   "password": PASSWORD})).json()
    http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    return http


async def register(http: httpx.AsyncClient, email: str) -> str:
    """Register a trader through the API; returns the user id."""
    response = await http.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


@contextlib.asynccontextmanager
async def running_console(url: str, *, size: tuple[int, int] = (80, 24), poll_s: float = 0.5,
                          email: str = ADMIN_EMAIL,
                          ) -> AsyncIterator[tuple[AdminConsole, Pilot[None]]]:
    """The console app headless at `size`, talking to `url` (not yet logged in)."""
    api = AdminApi(url)
    app = AdminConsole(api, email=email, poll_s=poll_s)
    try:
        async with app.run_test(size=size) as pilot:
            yield app, pilot
    finally:
        await api.logout()
        await api.aclose()


async def log_in(app: AdminConsole, pilot: Pilot[None], password: str = PASSWORD) -> None:
    """Type the password (the e-mail is filled in) and wait for the dashboard."""
    await pilot.press(*password, "enter")
    await eventually(lambda: app.ready and app.screen.name == "dashboard", timeout=10,
                     message="logged in")


async def show(app: AdminConsole, pilot: Pilot[None], key: str, name: str) -> None:
    """Press a screen's number key and wait until it is shown."""
    await pilot.press(key)
    await eventually(lambda: app.screen.name == name, message=f"{name} shown")


def _plain(cell: Any) -> str:
    return Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)


def table_rows(app: AdminConsole, selector: str) -> list[list[str]]:
    """The rows of a DataTable of the current screen, as the operator reads them."""
    table: DataTable[Any] = app.screen.query_one(selector, DataTable)
    return [[_plain(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def select_row(app: AdminConsole, pilot: Pilot[None], selector: str, key: str) -> None:
    """Move a table's cursor to the row with `key` and focus the table."""
    table: DataTable[Any] = app.screen.query_one(selector, DataTable)
    await eventually(lambda: key in {k.value for k in table.rows}, message=f"row {key}")
    table.focus()
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()
