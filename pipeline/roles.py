"""The registry of pipeline roles, by the name `algo pipeline ROLE` takes."""

from __future__ import annotations

from typing import Final

from pipeline.executor.service import ExecutorService
from pipeline.feed.service import FeedService
from pipeline.notifier.service import NotifierService
from pipeline.playground.service import PlaygroundService
from pipeline.service import Service
from pipeline.slwatch.service import SlWatchService
from pipeline.trigger.service import TriggerService

ROLES: Final[dict[str, type[Service]]] = {
    cls.role: cls
    for cls in (FeedService, TriggerService, SlWatchService, ExecutorService, NotifierService,
                PlaygroundService)
}
