"""Order and error logs: filter, and follow live (reload on each matching event)."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

from console import fmt
from console.api import AdminApi
from console.errors import ConsoleError
from console.models import ErrorEntry, OrderLogEntry
from console.screens.base import ApiScreen
from console.sse import ServerEvent

FOLLOW_POLL_S = 5.0
"""While following, reload this often too (not every error becomes an event)."""


class LogScreen(ApiScreen):
    """A filterable log; subclasses say what to load and how a row looks."""

    DEFAULT_CSS = """
    LogScreen DataTable { height: 1fr; }
    LogScreen #detail { height: auto; max-height: 5; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("slash", "search", "Filter"),
        Binding("l", "follow", "Follow live"),
        Binding("f5", "reload", "Reload"),
    ]
    PLACEHOLDER: ClassVar[str] = ""
    COLUMNS: ClassVar[tuple[str, ...]] = ()
    LIVE_TYPES: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, api: AdminApi, name: str) -> None:
        super().__init__(api, name=name)
        self.following = False
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=self.PLACEHOLDER, id="filter", compact=True)
        yield DataTable(id="log", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*self.COLUMNS)
        self.query_one(DataTable).focus()
        self.action_reload()

    def action_search(self) -> None:
        self.query_one("#filter", Input).focus()

    @on(Input.Submitted, "#filter")
    def _filtered(self) -> None:
        self.action_reload()
        self.query_one(DataTable).focus()

    def action_follow(self) -> None:
        """Follow the log live, or stop following."""
        self.following = not self.following
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.following:
            self._timer = self.set_interval(FOLLOW_POLL_S, self.action_reload)
            self.action_reload()
        self.sub_title = "following live" if self.following else ""

    def on_live(self, event: ServerEvent) -> None:
        """An event of the admin stream arrived (called by the app)."""
        if self.following and event.type in self.LIVE_TYPES:
            self.action_reload()

    def action_reload(self) -> None:
        """Reload with the current filter."""
        self._load(fmt.parse_filters(self.query_one("#filter", Input).value))

    @work(exclusive=True, group="load")
    async def _load(self, filters: dict[str, str]) -> None:
        try:
            await self.load(filters)
        except ConsoleError as exc:
            self.report(exc, self.name or "log")

    async def load(self, filters: dict[str, str]) -> None:
        """Fetch and show one page."""
        raise NotImplementedError

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        self.query_one("#detail", Static).update(self.describe(str(key)) if key else "")

    def describe(self, key: str) -> str:
        """The detail line of a row."""
        return key


class OrdersLogScreen(LogScreen):
    """Every user's orders, newest first."""

    PLACEHOLDER = "/ filter: status=REJECTED action=BUY user_id=usr_… trace_id=…"
    COLUMNS = ("time", "order", "action", "try", "status", "outcome", "ms")
    LIVE_TYPES = frozenset({"ORDER_EXECUTED", "ORDER_REJECTED", "SL_TRIGGERED"})

    def __init__(self, api: AdminApi) -> None:
        super().__init__(api, "orders")
        self.rows: dict[str, OrderLogEntry] = {}

    async def load(self, filters: dict[str, str]) -> None:
        page = await self.api.order_logs(filters, limit=200)
        table = self.query_one(DataTable)
        table.clear()
        self.rows = {str(o.id): o for o in page.items}
        for entry in page.items:
            status = f"[red]{entry.status}[/]" if entry.error else entry.status
            table.add_row(fmt.when(entry.created_at), entry.order_id, entry.action,
                          str(entry.attempt), status, entry.outcome or fmt.DASH,
                          fmt.num(entry.latency_ms, 1), key=str(entry.id))

    def describe(self, key: str) -> str:
        entry = self.rows.get(key)
        if entry is None:
            return ""
        return (f"user {entry.user_id}  strategy {entry.strategy_id}  trace "
                f"{entry.trace_id or fmt.DASH}\n{fmt.cut(entry.error, 200)}")


class ErrorsLogScreen(LogScreen):
    """Persisted ERROR/CRITICAL records of every process, newest first."""

    PLACEHOLDER = "/ filter: level=CRITICAL service=executor trace_id=… user_id=usr_…"
    COLUMNS = ("time", "level", "service", "message")
    LIVE_TYPES = frozenset({"ERROR"})

    def __init__(self, api: AdminApi) -> None:
        super().__init__(api, "errors")
        self.rows: dict[str, ErrorEntry] = {}

    async def load(self, filters: dict[str, str]) -> None:
        page = await self.api.error_logs(filters, limit=200)
        table = self.query_one(DataTable)
        table.clear()
        self.rows = {str(e.id): e for e in page.items}
        for entry in page.items:
            level = f"[red]{entry.level}[/]" if entry.level == "CRITICAL" else entry.level
            table.add_row(fmt.when(entry.created_at), level, entry.service,
                          fmt.cut(entry.message, 120), key=str(entry.id))

    def describe(self, key: str) -> str:
        entry = self.rows.get(key)
        if entry is None:
            return ""
        return (f"{entry.logger}  trace {entry.trace_id or fmt.DASH}  user "
                f"{entry.user_id or fmt.DASH}  strategy {entry.strategy_id or fmt.DASH}\n"
                f"{fmt.cut(entry.message, 200)}\n{fmt.cut(entry.exception, 200)}")
