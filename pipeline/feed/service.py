"""The feed role (filled in by the market-data feature)."""

from __future__ import annotations

from pipeline.service import Service


class FeedService(Service):
    """Publishes normalised ticks from broker, synthetic and replay sources."""

    role = "feed"
    description = "tick sources to ticks.>, LTP cache"
