"""Users: search, detail, activate/deactivate, role, soft delete, per-user kill switch."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from console import fmt
from console.api import AdminApi
from console.errors import ConsoleError
from console.models import User, UserDetail
from console.screens.base import ApiScreen
from console.screens.confirm import ChoiceScreen, ConfirmScreen, TypedConfirmScreen

ROLES = ["admin", "user", "broker"]


class UsersScreen(ApiScreen):
    """A searchable list with the selected user's detail below."""

    DEFAULT_CSS = """
    UsersScreen DataTable { height: 1fr; }
    UsersScreen #detail { height: auto; max-height: 6; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("a", "toggle_active", "(De)activate"),
        Binding("r", "role", "Role"),
        Binding("x", "delete", "Delete"),
        Binding("h", "halt", "Halt user"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(self, api: AdminApi) -> None:
        super().__init__(api, name="users")
        self.rows: dict[str, User] = {}
        self.detail: UserDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ search e-mail · role=user · is_active=false", id="search",
                    compact=True)
        yield DataTable(id="users", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("e-mail", "role", "active", "last login")
        self.query_one(DataTable).focus()
        self.action_reload()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Submitted, "#search")
    def _searched(self) -> None:
        self.action_reload()
        self.query_one(DataTable).focus()

    def action_reload(self) -> None:
        """Reload the list with the current filter."""
        filters = fmt.parse_filters(self.query_one("#search", Input).value)
        self._load(filters)

    @work(exclusive=True, group="load")
    async def _load(self, filters: dict[str, str]) -> None:
        active = filters.get("is_active")
        try:
            page = await self.api.users(
                q=filters.get("q"), role=filters.get("role"),
                is_active=None if active is None else active.lower() in ("1", "true", "yes"),
                limit=200)
        except ConsoleError as exc:
            self.report(exc, "users")
            return
        table = self.query_one(DataTable)
        selected = self.selected_key(table)
        table.clear()
        self.rows = {u.id: u for u in page.items}
        for user in page.items:
            table.add_row(fmt.cut(user.email, 40), user.role,
                          "yes" if user.is_active else "[red]no[/]",
                          fmt.when(user.last_login_at), key=user.id)
        if selected in self.rows:
            table.move_cursor(row=table.get_row_index(selected))
        self._show(self.selected_key(table))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(None if event.row_key.value is None else str(event.row_key.value))

    def _show(self, user_id: str | None) -> None:
        if user_id is None:
            self.query_one("#detail", Static).update("no user selected")
            return
        self._detail(user_id)

    @work(exclusive=True, group="detail")
    async def _detail(self, user_id: str) -> None:
        try:
            detail = await self.api.user(user_id)
        except ConsoleError as exc:
            self.report(exc, "user detail")
            return
        self.detail = detail
        self.query_one("#detail", Static).update(
            f"[b]{fmt.esc(detail.email)}[/]  {detail.id}\n"
            f"role {detail.role}  active {'yes' if detail.is_active else 'no'}  "
            f"strategies {detail.strategy_count}  max daily loss "
            f"{fmt.num(detail.max_daily_loss, 2)}\n"
            f"created {fmt.when(detail.created_at)}  last login {fmt.when(detail.last_login_at)}")

    def _current(self) -> User | None:
        key = self.selected_key(self.query_one(DataTable))
        return None if key is None else self.rows.get(key)

    def action_toggle_active(self) -> None:
        """Deactivate (after confirming) or activate the selected user."""
        user = self._current()
        if user is None:
            return
        if not user.is_active:
            self._update(user.id, "activated", is_active=True)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._update(user.id, "deactivated", is_active=False)

        self.app.push_screen(ConfirmScreen(
            f"Deactivate {fmt.esc(user.email)}? Their sessions end at once.", "Deactivate"),
            answered)

    def action_role(self) -> None:
        """Change the selected user's role."""
        user = self._current()
        if user is None:
            return

        def picked(role: str | None) -> None:
            if role and role != user.role:
                self._update(user.id, f"is now {role}", role=role)

        self.app.push_screen(ChoiceScreen(f"Role of {fmt.esc(user.email)}", ROLES), picked)

    @work(exclusive=True, group="change")
    async def _update(self, user_id: str, what: str, *, role: str | None = None,
                      is_active: bool | None = None) -> None:
        try:
            detail = await self.api.update_user(user_id, role=role, is_active=is_active)
        except ConsoleError as exc:
            self.report(exc, "update user")
            return
        self.done(f"{fmt.esc(detail.email)} {what}")
        self.action_reload()

    def action_delete(self) -> None:
        """Soft-delete the selected user after a typed confirmation."""
        user = self._current()
        if user is None:
            return

        def answered(result: object) -> None:
            if result is not None:
                self._delete(user.id, user.email)

        self.app.push_screen(TypedConfirmScreen(
            f"Delete {fmt.esc(user.email)}? Access ends and their strategies stop.", user.email,
            ask_reason=False), answered)

    @work(exclusive=True, group="change")
    async def _delete(self, user_id: str, email: str) -> None:
        try:
            await self.api.delete_user(user_id)
        except ConsoleError as exc:
            self.report(exc, "delete user")
            return
        self.done(f"{fmt.esc(email)} deleted")
        self.action_reload()

    async def action_halt(self) -> None:
        """Engage the kill switch for the selected user (typed confirmation)."""
        user = self._current()
        if user is not None:
            await self.app.run_action(f"halt('{user.id}')")
