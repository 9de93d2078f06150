"""Structured JSON logs with the current trace id on every record (OPS-3)."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Final

from core.cloudwatch import CloudWatchHandler, CloudWatchTarget
from core.settings import Settings
from core.trace import current_trace_id

_STANDARD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, service, message, trace_id, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a JSON line."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "service": self.service,
            "message": record.getMessage(),
        }
        trace_id = getattr(record, "trace_id", None) or current_trace_id()
        if trace_id:
            payload["trace_id"] = trace_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, still with the trace id."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as one readable line."""
        trace_id = current_trace_id()
        base = f"{self.formatTime(record)} {record.levelname:<7} {record.name}: "
        text = base + record.getMessage() + (f" [trace={trace_id}]" if trace_id else "")
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        return text


def cloudwatch_target(settings: Settings) -> CloudWatchTarget | None:
    """Where `settings` ship logs to CloudWatch; None without `ALGO_CLOUDWATCH_LOG_GROUP`."""
    if not settings.cloudwatch_log_group:
        return None
    return CloudWatchTarget(settings.cloudwatch_log_group, settings.cloudwatch_region,
                            settings.cloudwatch_endpoint_url, settings.cloudwatch_queue_size)


def configure_logging(service: str, level: str = "INFO", *, json_lines: bool = True,
                      cloudwatch: CloudWatchTarget | None = None) -> None:
    """Route every logger to stderr in the chosen format (and, given a target, to CloudWatch
    Logs as JSON lines, without ever blocking); idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_lines else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, CloudWatchHandler):
            old.close()
    root.addHandler(handler)
    if cloudwatch is not None:
        root.addHandler(CloudWatchHandler(cloudwatch, service, JsonFormatter(service)))
    root.setLevel(level.upper())
    # Per-request access lines come from our own middleware.
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)
