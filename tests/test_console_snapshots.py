"""Every console screen at 80x24 and 160x48, compared as text with tests/snapshots/console/.

The console runs against the web app on a real server with fixed data; what differs from
run to run (ids, times, the server's port) is replaced by same-width placeholders before
comparing. `UPDATE_SNAPSHOTS=1 pytest tests/test_console_snapshots.py` rewrites the files;
on a mismatch the actual text and an SVG screenshot are written beside the test's tmp dir.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from textual.pilot import Pilot
from textual.widgets import DataTable

from console.app import AdminConsole
from core import subjects
from core.commands import build_command
from core.db.enums import OrderAction
from core.db.models import ErrorLog
from core.embedded.stack import Endpoints
from core.messages import encode
from tests.admin_kit import add_order, add_strategy
from tests.conftest import make_settings
from tests.console_kit import admin_client, create_admin, log_in, register, running_console
from tests.sse_kit import serving
from tests.stubs import eventually
from web.app import create_app

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "console"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
SIZES = [(80, 24), (160, 48)]
FIXED = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
"""When the seeded errors and dead letter happened: long enough ago to stay out of the
error rate's window."""

_NORMALIZE = [
    (re.compile(r"\b(usr|str|ord|brk|aud|evt|ntf)_[0-9A-HJKMNP-TV-Z]{26}\b"),
     lambda m: f"{m.group(1)}_{'X' * 26}"),
    (re.compile(r"\b(usr|str|ord|brk|aud|evt|ntf)_[0-9A-HJKMNP-TV-Z]{4,25}…"),
     lambda m: m.group(1) + "_" + "X" * (len(m.group(0)) - len(m.group(1)) - 2) + "…"),
    (re.compile(r"\b\d\d [A-Z][a-z]{2} \d\d:\d\d:\d\d\b"), lambda m: "DD Mon HH:MM:SS"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), lambda m: "HH:MM:SS"),
    (re.compile(r"127\.0\.0\.1:\d+"), lambda m: "127.0.0.1:" + "P" * (len(m.group(0)) - 10)),
    (re.compile(r"\"issued_at\": \d+"), lambda m: '"issued_at": N'),
]


def normalize(text: str) -> str:
    """The screen's text with run-specific values replaced by same-width placeholders."""
    for pattern, repl in _NORMALIZE:
        text = pattern.sub(repl, text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def screen_text(app: AdminConsole) -> str:
    """The current screen as plain text (what `export_screenshot` draws, without styles)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


@pytest.fixture
async def url(endpoints: Endpoints, tmp_path: Path, js: JetStreamContext,
              sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    """The web app on a real server with one of everything the console shows."""
    await create_admin(sessions)
    app = create_app(make_settings(endpoints, tmp_path, sse_heartbeat_s=0.5))
    async with serving(app) as base_url:
        admin = await admin_client(base_url)
        try:
            await _seed(admin, js, sessions)
        finally:
            await admin.aclose()
        yield base_url


async def _seed(admin: httpx.AsyncClient, js: JetStreamContext,
                sessions: async_sessionmaker[AsyncSession]) -> None:
    alice = await register(admin, "alice@example.com")
    bob = await register(admin, "bob@example.com")
    running = await add_strategy(sessions, alice, status="RUNNING", position="BOUGHT")
    await add_strategy(sessions, bob, status="CREATED", symbol="TCS")
    await add_order(sessions, running, trace_id="trace-1")
    async with sessions() as session, session.begin():
        for i, (level, service, message) in enumerate([
                ("ERROR", "executor", "broker timed out after sending [ambiguous]"),
                ("CRITICAL", "feed", "tick source lost for 30 s")]):
            session.add(ErrorLog(level=level, service=service, logger=f"algo.{service}",
                                 message=message, exception=None, trace_id=f"t{i}",
                                 user_id=alice, strategy_id=running.id, context={},
                                 created_at=FIXED))
    command = build_command(FIXED, user_id=alice, strategy_id=running.id,
                            trading_day="2026-01-05", action=OrderAction.BUY, reason="trigger")
    await js.publish("dlq.commands.executor", encode(command), headers={
        "Algo-Reason": "broker rejected: margin", "Algo-Deliveries": "5",
        "Algo-Subject": subjects.order_command(alice, running.id),
        subjects.MSG_ID_HEADER: f"{running.id}:dlq"})
    response = await admin.post("/admin/system/halt",
                                json={"scope": bob, "reason": "under review"})
    assert response.status_code == 201, response.text


def _rows(app: AdminConsole, selector: str) -> int:
    table: DataTable[Any] = app.screen.query_one(selector, DataTable)
    return table.row_count


def _has(app: AdminConsole, selector: str, text: str) -> bool:
    return text in str(app.screen.query_one(selector).render())


Ready = Callable[[AdminConsole], bool]
VIEWS: list[tuple[str, str | None, Ready]] = [
    ("dashboard", None, lambda app: app.live.metrics is not None
     and app.live.health is not None and bool(app.live.halts) and app.feed.connected),
    ("users", "2", lambda app: _rows(app, "#users") == 3 and _has(app, "#detail", "strategies")),
    ("strategies", "3", lambda app: _rows(app, "#strategies") == 2
     and _has(app, "#detail", "NSE:")),
    ("orders", "4", lambda app: _rows(app, "#log") == 1 and _has(app, "#detail", "trace")),
    ("errors", "5", lambda app: _rows(app, "#log") == 2 and _has(app, "#detail", "trace")),
    ("dlq", "6", lambda app: _rows(app, "#dlq") == 1 and _has(app, "#detail", "margin")),
    ("halts", "7", lambda app: _rows(app, "#halts") == 1 and _has(app, "#state", "trading")),
]


def _on(name: str, ready: Ready) -> Ready:
    return lambda app: app.screen.name == name and ready(app)


async def _settle(app: AdminConsole, pilot: Pilot[None], ready: Ready, name: str) -> None:
    await eventually(lambda: ready(app), timeout=10, message=f"{name} ready")
    # The screen's own loads are done (the app's event feed runs for ever).
    await eventually(lambda: all(w.is_finished for w in app.workers if w.node is app.screen),
                     message=f"{name} loaded")
    # A table sizes its columns on a later refresh than the one that filled it: wait until
    # two frames in a row agree.
    before = None
    for _ in range(20):
        await pilot.pause(0.05)
        now = screen_text(app)
        if now == before:
            return
        before = now


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_screen_matches_its_snapshot(url: str, size: tuple[int, int],
                                                 tmp_path: Path) -> None:
    mismatched: list[str] = []

    async def check(name: str, app: AdminConsole) -> None:
        actual = normalize(screen_text(app))
        path = SNAPSHOTS / f"{name}_{size[0]}x{size[1]}.txt"
        if UPDATE or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
            if not UPDATE:
                mismatched.append(f"{path.name} (new: written, check it in)")
            return
        if path.read_text() != actual:
            (tmp_path / path.name).write_text(actual)
            (tmp_path / path.with_suffix(".svg").name).write_text(app.export_screenshot())
            mismatched.append(f"{path.name} (actual in {tmp_path})")

    async with running_console(url, size=size, poll_s=0.3) as (app, pilot):
        await pilot.pause()
        await check("login", app)
        await log_in(app, pilot)
        for name, key, ready in VIEWS:
            if key is not None:
                await pilot.press(key)
            await _settle(app, pilot, _on(name, ready), name)
            await check(name, app)
        await pilot.press("g")  # the kill switch's typed confirmation
        await _settle(app, pilot, lambda a: _has(a, "#question", "EVERY user"), "confirm")
        await check("halt_confirm", app)
        await pilot.press("escape")
    assert mismatched == []


