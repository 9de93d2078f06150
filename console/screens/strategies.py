"""Strategies of every user: filter, detail with order history, force-stop."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from console import fmt
from console.api import AdminApi
from console.errors import ConsoleError
from console.models import Strategy
from console.screens.base import ApiScreen
from console.screens.confirm import Typed, TypedConfirmScreen


class StrategiesScreen(ApiScreen):
    """The list on top, the selected strategy and its orders below."""

    DEFAULT_CSS = """
    StrategiesScreen #strategies { height: 1fr; }
    StrategiesScreen #detail { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    StrategiesScreen #orders { height: 1fr; }
    """
    BINDINGS = [
        Binding("slash", "search", "Filter"),
        Binding("s", "force_stop", "Force-stop"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(self, api: AdminApi) -> None:
        super().__init__(api, name="strategies")
        self.rows: dict[str, Strategy] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ filter: status=RUNNING user_id=usr_… symbol=NSE:INFY",
                    id="filter", compact=True)
        yield DataTable(id="strategies", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield DataTable(id="orders", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#strategies", DataTable).add_columns(
            "name", "user", "symbol", "status", "position")
        self.query_one("#orders", DataTable).add_columns(
            "day", "action", "status", "qty", "price", "reason")
        self.query_one("#strategies", DataTable).focus()
        self.action_reload()

    def action_search(self) -> None:
        self.query_one("#filter", Input).focus()

    @on(Input.Submitted, "#filter")
    def _filtered(self) -> None:
        self.action_reload()
        self.query_one("#strategies", DataTable).focus()

    def action_reload(self) -> None:
        """Reload the list with the current filter."""
        self._load(fmt.parse_filters(self.query_one("#filter", Input).value))

    @work(exclusive=True, group="load")
    async def _load(self, filters: dict[str, str]) -> None:
        try:
            page = await self.api.strategies(filters, limit=200)
        except ConsoleError as exc:
            self.report(exc, "strategies")
            return
        table = self.query_one("#strategies", DataTable)
        selected = self.selected_key(table)
        table.clear()
        self.rows = {s.id: s for s in page.items}
        for strategy in page.items:
            table.add_row(fmt.cut(strategy.name, 24),
                          fmt.cut(strategy.user_email or strategy.user_id, 28),
                          strategy.symbol, strategy.status, strategy.position, key=strategy.id)
        if selected in self.rows:
            table.move_cursor(row=table.get_row_index(selected))
        key = self.selected_key(table)
        if key is not None:
            self._detail(key)

    @on(DataTable.RowHighlighted, "#strategies")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._detail(str(event.row_key.value))

    @work(exclusive=True, group="detail")
    async def _detail(self, strategy_id: str) -> None:
        try:
            found = await self.api.strategy(strategy_id)
        except ConsoleError as exc:
            self.report(exc, "strategy detail")
            return
        detail = found.strategy
        self.query_one("#detail", Static).update(
            f"[b]{fmt.esc(detail.name)}[/] {detail.id}  {detail.symbol} x{detail.quantity}  "
            f"{detail.buy_time}-{detail.sell_time}  [b]{detail.status}[/] {detail.position}"
            f"{'  ' + fmt.cut(detail.status_reason, 40) if detail.status_reason else ''}")
        orders = self.query_one("#orders", DataTable)
        orders.clear()
        for order in found.orders:
            orders.add_row(order.trading_day, order.action, order.status,
                           fmt.num(order.quantity), fmt.num(order.average_price, 2),
                           fmt.cut(order.status_reason, 40), key=order.id)

    def action_force_stop(self) -> None:
        """Square off and stop the selected strategy (typed confirmation)."""
        key = self.selected_key(self.query_one("#strategies", DataTable))
        strategy = None if key is None else self.rows.get(key)
        if strategy is None:
            return

        def answered(result: Typed | None) -> None:
            if result is not None:
                self._force_stop(strategy.id, result.reason)

        self.app.push_screen(TypedConfirmScreen(
            f"Force-stop {fmt.esc(strategy.name)} ({strategy.symbol}, {strategy.position})? "
            "An open position is squared off first.", "STOP"), answered)

    @work(exclusive=True, group="change")
    async def _force_stop(self, strategy_id: str, reason: str) -> None:
        try:
            stopped = await self.api.force_stop(strategy_id, reason)
        except ConsoleError as exc:
            self.report(exc, "force-stop")
            return
        square = "; squaring off the position" if stopped.square_off else ""
        self.done(f"{fmt.esc(stopped.strategy.name)}: {stopped.strategy.status}{square}")
        self.action_reload()
