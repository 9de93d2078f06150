"""The notifier role (filled in by the live-events feature)."""

from __future__ import annotations

from pipeline.service import Service


class NotifierService(Service):
    """Turns events into per-user notifications, exactly once per event."""

    role = "notifier"
    description = "events.> to notifications"
