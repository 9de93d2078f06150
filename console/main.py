"""`algo console` (`python -m console`): the admin TUI against a web app's URL."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from console.api import AdminApi
from console.app import AdminConsole
from core.settings import Settings


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    """The console's options; defaults come from the settings."""
    parser = argparse.ArgumentParser(prog="algo console",
                                     description="The admin console (Textual)")
    parser.add_argument("--url", default=settings.console_api_url,
                        help="the web API's base URL (ALGO_CONSOLE_API_URL)")
    parser.add_argument("--email", default=settings.admin_email,
                        help="the admin account to log in with (ALGO_ADMIN_EMAIL)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console until the operator quits (Ctrl+Q)."""
    settings = Settings()
    args = build_parser(settings).parse_args(argv)
    api = AdminApi(args.url)
    AdminConsole(api, email=args.email, poll_s=settings.console_poll_s, owns_api=True).run()
    return 0
