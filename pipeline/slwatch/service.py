"""The slwatch role (filled in by the market-data feature)."""

from __future__ import annotations

from pipeline.service import Service


class SlWatchService(Service):
    """Keeps the armed stop-losses in memory and reacts to every tick."""

    role = "slwatch"
    description = "armed stop-losses; tick breach to cmd.order.>"
