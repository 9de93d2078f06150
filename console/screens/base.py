"""What every screen of the console shares: the API client and error reporting."""

from __future__ import annotations

from typing import Any, Final

from textual.screen import Screen

from console.api import AdminApi
from console.errors import ApiError, ConsoleError, EndpointMissing

SUBTITLES: Final = {
    "dashboard": "1 Dashboard", "users": "2 Users", "strategies": "3 Strategies",
    "orders": "4 Orders", "errors": "5 Errors", "dlq": "6 DLQ", "halts": "7 Kill switch",
}


class ApiScreen(Screen[None]):
    """A screen that reads and changes the platform through the admin API."""

    def __init__(self, api: AdminApi, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.api = api
        self.last_error: str | None = None

    def report(self, exc: ConsoleError, doing: str) -> None:
        """Tell the operator what failed, in one line (and keep it for tests)."""
        if isinstance(exc, EndpointMissing):
            text = f"{doing}: this server has no such endpoint yet ({exc.status})"
        elif isinstance(exc, ApiError):
            text = f"{doing}: {exc.error_code} {exc.message}"
        else:
            text = f"{doing}: {exc}"
        self.last_error = text
        self.notify(text, severity="error", timeout=8)

    def done(self, text: str) -> None:
        """Confirm an action that succeeded."""
        self.last_error = None
        self.notify(text, timeout=4)

    def selected_key(self, table: Any) -> str | None:
        """The row key of the cursor row of a DataTable, if any row is there."""
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else str(key)
