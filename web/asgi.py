"""The app as an importable ASGI object, for Hypercorn's worker processes (`web.asgi:app`)."""

from __future__ import annotations

from core.logging import configure_logging
from core.settings import Settings
from web.app import create_app

settings = Settings()
configure_logging("web", settings.log_level, json_lines=settings.log_json)
app = create_app(settings)
