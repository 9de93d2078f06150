"""The ops console: a keyboard-driven Textual app over the admin API (ADM-6).

Attributes down, messages up: the app owns the API client, the event feed and the live
state; screens get them through their constructors and post messages (log-in) up.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from functools import partial
from typing import Final

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from console.api import AdminApi
from console.errors import ConsoleError, EndpointMissing
from console.feed import EventFeed
from console.live import LiveState
from console.screens.base import SUBTITLES, ApiScreen
from console.screens.dashboard import DashboardScreen
from console.screens.dlq import DlqScreen
from console.screens.halts import HaltsScreen
from console.screens.login import LoginScreen
from console.screens.logs import ErrorsLogScreen, LogScreen, OrdersLogScreen
from console.screens.strategies import StrategiesScreen
from console.screens.users import UsersScreen

SCREENS_IN_ORDER: Final = ("dashboard", "users", "strategies", "orders", "errors", "dlq",
                           "halts")
ACTIONS: Final = (
    # (screen, action, palette title, help)
    ("users", "search", "Users: search", "Focus the user search box"),
    ("users", "toggle_active", "Users: activate / deactivate", "Toggle the selected user"),
    ("users", "role", "Users: change role", "Give the selected user another role"),
    ("users", "delete", "Users: soft delete", "Delete the selected user (typed confirmation)"),
    ("users", "halt", "Users: halt trading", "Kill switch for the selected user"),
    ("strategies", "search", "Strategies: filter", "Filter by status, user, symbol"),
    ("strategies", "force_stop", "Strategies: force-stop",
     "Square off and stop the selected strategy"),
    ("orders", "search", "Orders: filter", "Filter the order log"),
    ("orders", "follow", "Orders: follow live", "Reload as orders happen"),
    ("errors", "search", "Errors: filter", "Filter the error log"),
    ("errors", "follow", "Errors: follow live", "Reload as errors happen"),
    ("dlq", "retry", "DLQ: retry", "Send the selected dead letter again once"),
    ("dlq", "discard", "DLQ: discard", "Drop the selected dead letter"),
    ("halts", "halt('global')", "Kill switch: halt everyone", "Engage the global halt"),
    ("halts", "halt_user", "Kill switch: halt a user", "Engage the halt of the typed user"),
    ("halts", "release", "Kill switch: release", "Release the selected halt"),
)


class AdminConsole(App[None]):
    """Log in, then a dashboard and one screen per admin task; Ctrl+P lists every action."""

    TITLE = "algo console"
    BINDINGS = [
        *(Binding(str(i + 1), f"show('{name}')", SUBTITLES[name].split(" ", 1)[1],
                  show=i == 0) for i, name in enumerate(SCREENS_IN_ORDER)),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self, api: AdminApi, *, email: str = "", poll_s: float = 5.0,
                 owns_api: bool = False) -> None:
        super().__init__()
        self.api = api
        self.email = email
        self.poll_s = poll_s
        self.owns_api = owns_api
        self.live = LiveState()
        self.feed = EventFeed(api)
        self.ready = False

    def on_mount(self) -> None:
        self.push_screen(LoginScreen(self.api, self.email))

    async def on_unmount(self) -> None:
        if self.owns_api:
            await self.api.logout()
            await self.api.aclose()

    @on(LoginScreen.LoggedIn)
    def _logged_in(self, event: LoginScreen.LoggedIn) -> None:
        factories: dict[str, Callable[[], Screen[None]]] = {
            "dashboard": lambda: DashboardScreen(self.api, self.live, self.feed),
            "users": lambda: UsersScreen(self.api),
            "strategies": lambda: StrategiesScreen(self.api),
            "orders": lambda: OrdersLogScreen(self.api),
            "errors": lambda: ErrorsLogScreen(self.api),
            "dlq": lambda: DlqScreen(self.api),
            "halts": lambda: HaltsScreen(self.api),
        }
        for name in SCREENS_IN_ORDER:
            if not self.is_screen_installed(name):
                self.install_screen(factories[name](), name)
        self.sub_title = f"{event.account.email} @ {self.api.base_url}"
        self.ready = True
        self.switch_screen("dashboard")
        self._follow_events()
        self.set_interval(self.poll_s, self._poll)
        self._poll()

    # --- live data ---------------------------------------------------------------------

    @work(exclusive=True, group="events")
    async def _follow_events(self) -> None:
        try:
            async for event in self.feed:
                self.live.apply(event)
                screen = self.screen
                if isinstance(screen, DashboardScreen):
                    screen.render_live()
                elif isinstance(screen, LogScreen):
                    screen.on_live(event)
        except ConsoleError as exc:
            self.feed.last_error = str(exc)
            self.notify(f"live events stopped: {exc}", severity="error")

    @work(exclusive=True, group="poll")
    async def _poll(self) -> None:
        live = self.live
        try:
            live.health, live.health_error = await self.api.health(), None
        except ConsoleError as exc:
            live.health_error = "n/a" if isinstance(exc, EndpointMissing) else type(exc).__name__
        try:
            live.apply_metrics(await self.api.metrics())
        except ConsoleError as exc:
            live.metrics_error = ("not served" if isinstance(exc, EndpointMissing)
                                  else type(exc).__name__)
        with contextlib.suppress(ConsoleError):
            live.halts = await self.api.halts()
        # The app may be shutting down meanwhile: then no screen is left to ask.
        stack = self.screen_stack
        if stack and isinstance(stack[-1], DashboardScreen):
            stack[-1].render_live()

    # --- navigation and actions --------------------------------------------------------

    def action_show(self, name: str) -> None:
        """Switch to one of the screens."""
        if self.ready and name in SCREENS_IN_ORDER and self.screen.name != name:
            self.switch_screen(name)

    def action_focus_table(self) -> None:
        """Leave a filter box for the screen's table."""
        tables = self.screen.query("DataTable")
        if tables:
            tables.first().focus()

    async def action_halt(self, scope: str) -> None:
        """Open the kill switch for `scope` (global or a user id)."""
        if not self.ready:
            return
        self.action_show("halts")
        screen = self.get_screen("halts")
        assert isinstance(screen, HaltsScreen)
        screen.action_halt(scope)

    async def run_on(self, name: str, action: str) -> None:
        """Show screen `name` and run one of its actions."""
        if not self.ready:
            return
        self.action_show(name)
        screen = self.get_screen(name)
        if isinstance(screen, ApiScreen):
            await screen.run_action(action)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not self.ready:
            return
        for name in SCREENS_IN_ORDER:
            title = SUBTITLES[name].split(" ", 1)[1]
            yield SystemCommand(f"Show {title}", f"Switch to the {title.lower()} screen",
                                partial(self.action_show, name))
        for name, action, title, text in ACTIONS:
            yield SystemCommand(title, text, partial(self.run_on, name, action))
        yield SystemCommand("Reload", "Reload the current screen's data", self._reload)

    async def _reload(self) -> None:
        if isinstance(self.screen, ApiScreen) and hasattr(self.screen, "action_reload"):
            await self.screen.run_action("reload")
        self._poll()
