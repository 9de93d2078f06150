"""The trigger role (filled in by the order-pipeline feature)."""

from __future__ import annotations

from pipeline.service import Service


class TriggerService(Service):
    """Fires order commands at each running strategy's buy and sell times."""

    role = "trigger"
    description = "schedule of running strategies to cmd.order.>"
