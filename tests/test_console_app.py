"""The console driven by Textual's pilot against the web app on a real server (ADM-6):
every action is checked afterwards through the admin API, not through the console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from textual.css.query import NoMatches
from textual.widgets import OptionList

from console.app import ACTIONS, SCREENS_IN_ORDER, AdminConsole
from console.screens.base import SUBTITLES
from console.screens.dashboard import DashboardScreen
from core.clock import RealClock
from core.db.models import ErrorLog
from core.embedded.stack import Endpoints
from core.events import EventPublisher, EventType
from tests.admin_kit import add_strategy
from tests.conftest import make_settings
from tests.console_kit import (
    admin_client,
    create_admin,
    log_in,
    register,
    running_console,
    select_row,
    show,
    table_rows,
)
from tests.sse_kit import serving
from tests.stubs import eventually
from web.app import create_app


@pytest.fixture
async def url(endpoints: Endpoints, tmp_path: Path,
              sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    """The web app on a real server, with an admin account."""
    await create_admin(sessions)
    app = create_app(make_settings(endpoints, tmp_path, sse_heartbeat_s=0.5))
    async with serving(app) as base_url:
        yield base_url


@pytest.fixture
async def admin(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API, to verify what the console did."""
    http = await admin_client(url)
    yield http
    await http.aclose()


async def test_login_refuses_a_wrong_password_then_lets_the_admin_in(url: str) -> None:
    async with running_console(url) as (app, pilot):
        await pilot.press(*"wrong-password", "enter")
        status = app.screen.query_one("#status")
        await eventually(lambda: "Invalid" in str(status.render()), message="refused")
        assert not app.ready
        password = app.screen.query_one("#password")
        password.value = ""  # type: ignore[attr-defined]
        await log_in(app, pilot)
        assert app.api.account is not None and app.api.account.role == "admin"


async def test_a_trader_cannot_use_the_console(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        await register(http, "trader@example.com")
    async with running_console(url, email="trader@example.com") as (app, pilot):
        await pilot.press(*"s3cret-pass", "enter")
        status = app.screen.query_one("#status")
        await eventually(lambda: "admin account" in str(status.render()), message="refused")
        assert not app.ready


async def test_live_events_and_metrics_arrive_on_the_dashboard(
        url: str, js: JetStreamContext, admin: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    trader = await register(admin, "trader@example.com")
    await add_strategy(sessions, trader, status="RUNNING", position="BOUGHT")
    events = EventPublisher(js, RealClock())
    async with running_console(url) as (app, pilot):
        await log_in(app, pilot)
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        await eventually(lambda: app.feed.connected, message="stream connected")
        await events.publish(events.build(
            EventType.ORDER_EXECUTED, user_id=trader, strategy_id="str_a", data={}))
        await events.publish(events.build(
            EventType.ERROR, user_id=trader, strategy_id="str_a",
            data={"kind": "broker", "message": "broker said [no] to the order"}))
        await eventually(lambda: app.live.events_seen == 2, message="events counted")
        await eventually(lambda: len(table_rows(app, "#errors")) == 1, message="error listed")
        [row] = table_rows(app, "#errors")
        assert row[1] == trader and "broker said [no] to the order" in row[2]
        assert app.live.orders_this_minute == 1
        # The periodic poll brings the platform's numbers and health.
        await eventually(lambda: app.live.metrics is not None
                         and app.live.metrics.running_strategies == 1, message="metrics")
        await eventually(lambda: app.live.health is not None, message="health")
        await eventually(lambda: "running strategies 1" in str(
            dashboard.query_one("#summary").render()), message="summary shows the count")
        assert "events 2" in str(dashboard.query_one("#summary").render())


async def _user_field(admin: httpx.AsyncClient, user_id: str, name: str) -> object:
    response = await admin.get(f"/admin/users/{user_id}")
    assert response.status_code == 200, response.text
    return response.json()[name]


async def test_deactivate_and_reactivate_a_user(url: str, admin: httpx.AsyncClient) -> None:
    trader = await register(admin, "trader@example.com")
    async with running_console(url) as (app, pilot):
        await log_in(app, pilot)
        await show(app, pilot, "2", "users")
        await select_row(app, pilot, "#users", trader)
        await pilot.press("a")
        await eventually(lambda: "Deactivate" in str(app.screen.query_one("#question").render()),
                         message="asked to confirm")
        await pilot.press("y")
        await eventually(lambda: _inactive(admin, trader), timeout=10, message="deactivated")
        # Activating again needs no confirmation.
        await eventually(lambda: app.screen.name == "users", message="back on the list")
        await select_row(app, pilot, "#users", trader)
        await eventually(lambda: [r[2] for r in table_rows(app, "#users")
                                            if r[0] == "trader@example.com"] == ["no"],
                         message="list shows inactive")
        await pilot.press("a")
        await eventually(lambda: _active(admin, trader), timeout=10, message="reactivated")


async def _inactive(admin: httpx.AsyncClient, user_id: str) -> bool:
    return await _user_field(admin, user_id, "is_active") is False


async def _active(admin: httpx.AsyncClient, user_id: str) -> bool:
    return await _user_field(admin, user_id, "is_active") is True


async def test_force_stop_a_strategy(url: str, admin: httpx.AsyncClient,
                                     sessions: async_sessionmaker[AsyncSession]) -> None:
    trader = await register(admin, "trader@example.com")
    strategy = await add_strategy(sessions, trader, status="RUNNING", position="BOUGHT")
    async with running_console(url) as (app, pilot):
        await log_in(app, pilot)
        await show(app, pilot, "3", "strategies")
        await select_row(app, pilot, "#strategies", strategy.id)
        await pilot.press("s")
        await eventually(lambda: "Force-stop" in str(app.screen.query_one("#question").render()),
                         message="asked to confirm")
        await pilot.press(*"STOP", "tab", *"runaway", "enter")
        await eventually(lambda: _strategy_status(admin, strategy.id, "STOPPED"), timeout=10,
                         message="stopped")
    body = (await admin.get(f"/admin/strategies/{strategy.id}")).json()
    assert body["strategy"]["status_reason"] == "force-stopped by admin: runaway"
    audit = (await admin.get("/admin/audit", params={"action": "admin.strategies.force_stop"})
             ).json()["items"]
    assert [a["target_id"] for a in audit] == [strategy.id]


async def _strategy_status(admin: httpx.AsyncClient, strategy_id: str, status: str) -> bool:
    body = (await admin.get(f"/admin/strategies/{strategy_id}")).json()
    return bool(body["strategy"]["status"] == status)


async def test_kill_switch_global_and_per_user(url: str, admin: httpx.AsyncClient) -> None:
    trader = await register(admin, "trader@example.com")
    async with running_console(url) as (app, pilot):
        await log_in(app, pilot)
        await show(app, pilot, "7", "halts")
        await pilot.press("g")
        await eventually(lambda: "EVERY user" in str(app.screen.query_one("#question").render()),
                         message="asked to confirm")
        await pilot.press(*"HALT", "tab", *"incident 42", "enter")
        await eventually(lambda: _halts(admin, {"global"}), timeout=10, message="halted")
        await eventually(lambda: app.screen.name == "halts", message="back")
        await eventually(lambda: "GLOBAL HALT ENGAGED" in str(
            app.screen.query_one("#state").render()), message="shown as engaged")

        # Per user, from the users screen.
        await show(app, pilot, "2", "users")
        await select_row(app, pilot, "#users", trader)
        await pilot.press("h")
        await eventually(lambda: trader in str(app.screen.query_one("#question").render()),
                         message="asked to confirm")
        await pilot.press(*"HALT", "tab", *"suspicious", "enter")
        await eventually(lambda: _halts(admin, {"global", trader}), timeout=10,
                         message="user halted")

        # Release the global one: typed confirmation again.
        await eventually(lambda: app.screen.name == "halts", message="halts shown")
        await select_row(app, pilot, "#halts", "global")
        await pilot.press("r")
        await eventually(lambda: "Release" in str(app.screen.query_one("#question").render()),
                         message="asked to confirm")
        await pilot.press(*"RELEASE", "enter")
        await eventually(lambda: _halts(admin, {trader}), timeout=10, message="released")
    reasons = {h["scope"]: h["reason"] for h in
               (await admin.get("/admin/system/halt")).json()["items"]}
    assert reasons == {trader: "suspicious"}


async def _halts(admin: httpx.AsyncClient, scopes: set[str]) -> bool:
    items = (await admin.get("/admin/system/halt")).json()["items"]
    return {h["scope"] for h in items} == scopes


async def test_the_command_palette_has_every_screen_and_action(url: str) -> None:
    async with running_console(url, size=(160, 48)) as (app, pilot):
        await log_in(app, pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {title for _, _, title, _ in ACTIONS} <= titles
        assert {f"Show {SUBTITLES[n].split(' ', 1)[1]}" for n in SCREENS_IN_ORDER} <= titles
        await pilot.press("ctrl+p")
        await pilot.press(*"halt everyone")
        await eventually(lambda: _palette_has(app, "Kill switch: halt everyone"),
                         message="found in the palette")
        await pilot.press("enter")
        await eventually(lambda: "EVERY user" in str(app.screen.query_one("#question").render()),
                         message="the action ran")
        await pilot.press("escape")
        await eventually(lambda: app.screen.name == "halts", message="cancelled")


def _palette_has(app: AdminConsole, title: str) -> bool:
    try:
        options = app.screen.query_one("CommandList", OptionList)
    except NoMatches:
        return False
    return any(title in str(options.get_option_at_index(i).prompt)
               for i in range(options.option_count))


async def test_the_error_log_follows_live(url: str, js: JetStreamContext,
                                          sessions: async_sessionmaker[AsyncSession]) -> None:
    events = EventPublisher(js, RealClock())
    async with running_console(url) as (app, pilot):
        await log_in(app, pilot)
        await show(app, pilot, "5", "errors")
        await pilot.press("l")
        assert app.screen.sub_title == "following live"
        await eventually(lambda: all(w.is_finished for w in app.workers
                                     if w.node is app.screen), message="first load done")
        async with sessions() as session, session.begin():
            session.add(ErrorLog(level="CRITICAL", service="executor", logger="algo.executor",
                                 message="order book unreachable", exception=None,
                                 trace_id="t-live", user_id=None, strategy_id=None, context={}))
        await events.publish(events.build(EventType.ERROR, user_id="system", strategy_id=None,
                                          data={"message": "order book unreachable"}))
        await eventually(lambda: [r[1:4] for r in table_rows(app, "#log")] == [
            ["CRITICAL", "executor", "order book unreachable"]], timeout=4,
            message="new error listed without a reload")
