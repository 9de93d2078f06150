"""Dead-lettered commands: inspect, retry once, discard."""

from __future__ import annotations

import json

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from console import fmt
from console.api import AdminApi
from console.errors import ConsoleError
from console.models import DlqEntry
from console.screens.base import ApiScreen
from console.screens.confirm import ConfirmScreen


class DlqScreen(ApiScreen):
    """The dead letters on top, the selected one's payload below."""

    DEFAULT_CSS = """
    DlqScreen DataTable { height: 1fr; }
    DlqScreen #detail { height: 1fr; padding: 0 1; background: $boost; overflow-y: auto; }
    """
    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("x", "discard", "Discard"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(self, api: AdminApi) -> None:
        super().__init__(api, name="dlq")
        self.rows: dict[int, DlqEntry] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="dlq", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("id", "parked", "action", "deliv", "reason")
        self.query_one(DataTable).focus()
        self.action_reload()

    def action_reload(self) -> None:
        """Reload the dead letters."""
        self._load()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            page = await self.api.dlq(limit=200)
        except ConsoleError as exc:
            self.report(exc, "dead letters")
            return
        table = self.query_one(DataTable)
        table.clear()
        self.rows = {e.seq: e for e in page.items}
        for entry in page.items:
            retried = "retried" if entry.retry is not None else fmt.cut(entry.reason, 60)
            table.add_row(str(entry.seq), fmt.when(entry.parked_at), entry.action or fmt.DASH,
                          fmt.num(entry.deliveries), retried, key=str(entry.seq))
        if not page.items:
            self.query_one("#detail", Static).update("no dead letters")

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._inspect(int(event.row_key.value))

    @work(exclusive=True, group="detail")
    async def _inspect(self, entry_id: int) -> None:
        try:
            entry = await self.api.dlq_entry(entry_id)
        except ConsoleError as exc:
            self.report(exc, "dead letter")
            return
        body = (json.dumps(entry.command, sort_keys=True, default=str)
                if entry.command is not None else entry.raw or fmt.DASH)
        retry = ("" if entry.retry is None else
                 f"\nretried {fmt.when(entry.retry.created_at)} by {entry.retry.actor_id}")
        self.query_one("#detail", Static).update(
            f"[b]#{entry.seq}[/] {fmt.esc(entry.original_subject or entry.subject)}  "
            f"deliveries {fmt.num(entry.deliveries)}\n"
            f"reason: {fmt.esc(entry.reason or fmt.DASH)}{fmt.esc(retry)}\n{fmt.esc(body)}")

    def _current(self) -> DlqEntry | None:
        key = self.selected_key(self.query_one(DataTable))
        return None if key is None else self.rows.get(int(key))

    def action_retry(self) -> None:
        """Send the selected command back to the executor once."""
        entry = self._current()
        if entry is not None:
            self._confirm(entry.seq, f"Retry dead letter #{entry.seq} once?", "Retry", retry=True)

    def action_discard(self) -> None:
        """Drop the selected dead letter."""
        entry = self._current()
        if entry is not None:
            self._confirm(entry.seq, f"Discard dead letter #{entry.seq}? It cannot be retried "
                                    "later.", "Discard", retry=False)

    def _confirm(self, entry_id: int, question: str, label: str, *, retry: bool) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._act(entry_id, retry=retry)

        self.app.push_screen(ConfirmScreen(question, label), answered)

    @work(exclusive=True, group="change")
    async def _act(self, entry_id: int, *, retry: bool) -> None:
        try:
            if retry:
                await self.api.dlq_retry(entry_id)
            else:
                await self.api.dlq_discard(entry_id)
        except ConsoleError as exc:
            self.report(exc, "retry" if retry else "discard")
            return
        self.done(f"#{entry_id} {'sent again' if retry else 'discarded'}")
        self.action_reload()
