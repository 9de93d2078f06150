"""Log in with an admin account."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label

from console.api import AdminApi
from console.errors import ApiError, ConsoleError
from console.models import TokenUser


class LoginScreen(Screen[None]):
    """E-mail and password; posts `LoggedIn` when the API accepts an admin."""

    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    LoginScreen > Vertical {
        width: 60; max-width: 100%; height: auto; border: round $primary; padding: 0 1;
    }
    LoginScreen Input { margin-bottom: 1; }
    LoginScreen #status { color: $error; height: auto; }
    LoginScreen Button { width: 100%; }
    """

    class LoggedIn(Message):
        """An admin is logged in."""

        def __init__(self, account: TokenUser) -> None:
            super().__init__()
            self.account = account

    def __init__(self, api: AdminApi, email: str = "") -> None:
        super().__init__()
        self.api = api
        self.email = email

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Label(f"Admin login — {self.api.base_url}")
            yield Input(self.email, placeholder="e-mail", id="email", compact=True)
            yield Input(placeholder="password", password=True, id="password", compact=True)
            yield Button("Log in", id="login", variant="primary")
            yield Label("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#password" if self.email else "#email", Input).focus()

    @on(Input.Submitted, "#email")
    def _next(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#login")
    def _submit(self) -> None:
        email = self.query_one("#email", Input).value.strip()
        password = self.query_one("#password", Input).value
        if email and password:
            self.query_one("#status", Label).update("logging in…")
            self._login(email, password)

    @work(exclusive=True)
    async def _login(self, email: str, password: str) -> None:
        status = self.query_one("#status", Label)
        try:
            account = await self.api.login(email, password)
        except ApiError as exc:
            status.update(exc.message)
            return
        except ConsoleError as exc:
            status.update(f"cannot reach the server: {exc}")
            return
        status.update("")
        self.post_message(self.LoggedIn(account))
