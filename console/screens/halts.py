"""The kill switch: engaged halts, engage (global or per user) and release."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from console import fmt
from console.api import AdminApi
from console.errors import ConsoleError
from console.screens.base import ApiScreen
from console.screens.confirm import Typed, TypedConfirmScreen

GLOBAL = "global"
HALT_WORD = "HALT"
RELEASE_WORD = "RELEASE"


class HaltsScreen(ApiScreen):
    """While a halt is engaged no broker order is sent for its scope."""

    DEFAULT_CSS = """
    HaltsScreen #state { height: auto; padding: 0 1; background: $boost; }
    HaltsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("g", "halt('global')", "Halt all"),
        Binding("u", "halt_user", "Halt user"),
        Binding("r", "release", "Release"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(self, api: AdminApi) -> None:
        super().__init__(api, name="halts")
        self.scopes: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="state")
        yield Input(placeholder="user id for u (usr_…)", id="user", compact=True)
        yield DataTable(id="halts", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("scope", "since", "set by", "reason")
        self.query_one(DataTable).focus()
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        """Reload the engaged halts."""
        self._load()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            halts = await self.api.halts()
        except ConsoleError as exc:
            self.report(exc, "kill switch")
            return
        table = self.query_one(DataTable)
        table.clear()
        self.scopes = [h.scope for h in halts]
        for halt in halts:
            table.add_row(halt.scope, fmt.when(halt.created_at), halt.set_by or "system",
                          fmt.cut(halt.reason, 60), key=halt.scope)
        engaged = GLOBAL in self.scopes
        self.query_one("#state", Static).update(
            ("[reverse red] GLOBAL HALT ENGAGED [/] no order is sent"
             if engaged else "[green]trading allowed[/] (no global halt)")
            + f"  ·  {len(halts)} halt(s) engaged")

    def action_halt_user(self) -> None:
        """Halt the user whose id is typed in the box."""
        user_id = self.query_one("#user", Input).value.strip()
        if not user_id:
            self.query_one("#user", Input).focus()
            self.notify("type the user id first", severity="warning")
            return
        self.action_halt(user_id)

    def action_halt(self, scope: str) -> None:
        """Engage the kill switch of `scope` after a typed confirmation."""
        what = "EVERY user" if scope == GLOBAL else f"user {scope}"

        def answered(result: Typed | None) -> None:
            if result is not None:
                self._engage(scope, result.reason)

        self.app.push_screen(TypedConfirmScreen(
            f"Engage the kill switch for {what}? No broker order is sent until released.",
            HALT_WORD), answered)

    @work(exclusive=True, group="change")
    async def _engage(self, scope: str, reason: str) -> None:
        try:
            await self.api.engage_halt(scope, reason)
        except ConsoleError as exc:
            self.report(exc, "engage kill switch")
            return
        self.done(f"kill switch engaged: {scope}")
        self.action_reload()

    def action_release(self) -> None:
        """Release the selected halt after a typed confirmation."""
        scope = self.selected_key(self.query_one(DataTable))
        if scope is None:
            return

        def answered(result: Typed | None) -> None:
            if result is not None:
                self._release(scope)

        self.app.push_screen(TypedConfirmScreen(
            f"Release the kill switch of {scope}? Orders flow again.", RELEASE_WORD,
            ask_reason=False), answered)

    @work(exclusive=True, group="change")
    async def _release(self, scope: str) -> None:
        try:
            await self.api.release_halt(scope)
        except ConsoleError as exc:
            self.report(exc, "release kill switch")
            return
        self.done(f"kill switch released: {scope}")
        self.action_reload()
