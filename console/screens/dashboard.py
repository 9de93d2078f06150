"""The live dashboard: services, lag, rates, running strategies and the latest errors."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Label, Sparkline, Static

from console import fmt
from console.api import AdminApi
from console.feed import EventFeed
from console.live import LiveState
from console.screens.base import ApiScreen


class DashboardScreen(ApiScreen):
    """Re-rendered from `LiveState` on every event, every poll and every second."""

    DEFAULT_CSS = """
    DashboardScreen #summary { height: auto; padding: 0 1; background: $boost; }
    DashboardScreen #tables { height: 1fr; }
    DashboardScreen #tables DataTable { width: 1fr; height: 1fr; }
    DashboardScreen #rates { height: 3; }
    DashboardScreen #rates Vertical { width: 1fr; padding: 0 1; }
    DashboardScreen Sparkline { height: 2; }
    DashboardScreen #errors { height: 1fr; }
    """

    def __init__(self, api: AdminApi, live: LiveState, feed: EventFeed) -> None:
        super().__init__(api, name="dashboard")
        self.live = live
        self.feed = feed

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary")
        with Horizontal(id="tables"):
            yield DataTable(id="services", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="lag", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="rates"):
            with Vertical():
                yield Label("ticks/s", id="ticks-label")
                yield Sparkline([], id="ticks")
            with Vertical():
                yield Label("orders/min", id="orders-label")
                yield Sparkline([], id="orders")
        yield DataTable(id="errors", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#services", DataTable).add_columns("service", "ok", "heartbeat")
        self.query_one("#lag", DataTable).add_columns("consumer", "pending", "acks", "redel")
        self.query_one("#errors", DataTable).add_columns("time", "user", "latest errors")
        self.set_interval(1.0, self.render_live)
        self.render_live()

    def on_screen_resume(self) -> None:
        self.render_live()

    def render_live(self) -> None:
        """Show the current `LiveState`."""
        if not self.is_mounted:
            return
        self._summary()
        self._services()
        self._lag()
        self._rates()
        self._errors()

    def _summary(self) -> None:
        live, metrics = self.live, self.live.metrics
        health = live.health.status if live.health else (live.health_error or fmt.DASH)
        scopes = [h.scope for h in live.halts]
        halted = ("[reverse red] GLOBAL [/]" if "global" in scopes
                  else f"{len(scopes)} user(s)" if scopes else "off")
        stream = (f"[green]live[/] #{self.feed.last_event_id or 0}" if self.feed.connected
                  else f"[red]reconnecting[/] {fmt.esc(self.feed.last_error or '')}".rstrip())
        if metrics is None:
            numbers = f"metrics {fmt.esc(live.metrics_error or 'pending')}"
        else:
            numbers = (f"running strategies [b]{fmt.num(metrics.running_strategies)}[/]  "
                       f"users {fmt.num(metrics.active_users)}  "
                       f"orders today {fmt.num(metrics.orders_today)}  "
                       f"errors/min {fmt.num(metrics.error_rate, 2)}")
        self.query_one("#summary", Static).update(
            f"health [b]{fmt.esc(health)}[/]  halt {halted}  stream {stream}  "
            f"events {live.events_seen}\n{numbers}")

    def _services(self) -> None:
        table = self.query_one("#services", DataTable)
        table.clear()
        for service in self.live.health.services if self.live.health else []:
            table.add_row(fmt.cut(service.name, 24),
                          "[green]up[/]" if service.ok else "[red]DOWN[/]",
                          fmt.age(service.heartbeat_age_s))

    def _lag(self) -> None:
        table = self.query_one("#lag", DataTable)
        table.clear()
        for lag in self.live.health.consumers if self.live.health else []:
            table.add_row(fmt.cut(f"{lag.stream}/{lag.consumer}", 24), fmt.num(lag.pending),
                          fmt.num(lag.ack_pending), fmt.num(lag.redelivered))

    def _rates(self) -> None:
        ticks = list(self.live.ticks_per_s)
        orders = self.live.orders_per_minute()
        self.query_one("#ticks", Sparkline).data = ticks
        self.query_one("#orders", Sparkline).data = orders
        last_ticks = fmt.num(ticks[-1], 1) if ticks else fmt.DASH
        self.query_one("#ticks-label", Label).update(f"ticks/s  {last_ticks}")
        self.query_one("#orders-label", Label).update(
            f"orders/min  {self.live.orders_this_minute}")

    def _errors(self) -> None:
        table = self.query_one("#errors", DataTable)
        table.clear()
        for line in list(self.live.errors)[:20]:
            table.add_row(fmt.clock_of(line.at), fmt.cut(line.user_id, 30),
                          fmt.cut(line.message, 80))
