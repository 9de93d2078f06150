"""The executor role (filled in by the order-pipeline feature)."""

from __future__ import annotations

from pipeline.service import Service


class ExecutorService(Service):
    """Turns each order command into at most one broker order."""

    role = "executor"
    description = "cmd.order.> to broker orders, exactly once"
