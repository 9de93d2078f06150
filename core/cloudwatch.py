"""Optional shipping of the JSON log lines to CloudWatch Logs (OPS-3, TASK-153).

Enabled by `ALGO_CLOUDWATCH_LOG_GROUP`; needs the `cloudwatch` extra (`watchtower` on boto3),
imported only then, so `make run` stays light. Logging must never wait on AWS: a record is
formatted in the caller's context (its trace id is a context variable), put on a bounded
queue without blocking, and shipped by one daemon thread that owns the watchtower handler
(which batches: up to 10,000 events or 1 MB per PutLogEvents, every `send_interval`). When
the queue is full, or AWS cannot be reached, records are dropped and counted, never raised:
stderr keeps the complete log either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any, Final

_SELF_LOGGERS: Final = ("botocore", "boto3", "urllib3", "watchtower", "s3transfer")
"""Records of the shipping machinery itself are not shipped (they would feed back)."""

_STOP: Final = object()


@dataclass(frozen=True)
class CloudWatchTarget:
    """Where the logs go."""

    log_group: str
    region: str = "ap-south-1"
    endpoint_url: str | None = None
    queue_size: int = 10_000
    send_interval_s: int = 5


def stream_name(service: str) -> str:
    """One log stream per process: `service/host/pid`."""
    return f"{service}/{socket.gethostname()}/{os.getpid()}"


class CloudWatchHandler(logging.Handler):
    """A logging handler that never blocks: it queues, a thread ships (see the module doc)."""

    def __init__(self, target: CloudWatchTarget, service: str,
                 formatter: logging.Formatter) -> None:
        super().__init__()
        self.target = target
        self.stream = stream_name(service)
        self.setFormatter(formatter)
        self.dropped = 0
        """Records not shipped: queue full, or the shipper could not start."""
        self._queue: queue.Queue[object] = queue.Queue(maxsize=target.queue_size)
        self._thread = threading.Thread(target=self._ship, name="cloudwatch-logs", daemon=True)
        self._thread.start()

    def filter(self, record: logging.LogRecord) -> bool:
        """Skip the AWS client libraries' own records."""
        return not record.name.startswith(_SELF_LOGGERS) and super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        """Format now (trace id in context), queue without waiting; drop when full."""
        try:
            line = self.format(record)
            shipped = logging.LogRecord(record.name, record.levelno, record.pathname,
                                        record.lineno, line, None, None)
            shipped.created = record.created
            self._queue.put_nowait(shipped)
        except queue.Full:
            self.dropped += 1
        except Exception:  # noqa: BLE001 (a log call must never raise into business code)
            self.dropped += 1

    def _ship(self) -> None:
        try:
            handler = self._open()
        except Exception as exc:  # noqa: BLE001 (no extra, no credentials, no endpoint)
            print(f"cloudwatch logs disabled: {exc!r}", file=sys.stderr, flush=True)
            handler = None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if handler is None:
                self.dropped += 1
                continue
            try:
                handler.handle(item)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001
                self.dropped += 1
        if handler is not None:
            handler.close()  # flushes what is batched

    def _open(self) -> logging.Handler:
        import boto3  # the `cloudwatch` extra: imported only when enabled
        import watchtower
        from botocore.config import Config

        client: Any = boto3.client(
            "logs", region_name=self.target.region, endpoint_url=self.target.endpoint_url,
            config=Config(connect_timeout=3, read_timeout=10,
                          retries={"max_attempts": 3, "mode": "standard"}))
        handler: logging.Handler = watchtower.CloudWatchLogHandler(
            log_group_name=self.target.log_group, log_stream_name=self.stream,
            boto3_client=client, send_interval=self.target.send_interval_s,
            create_log_group=True, use_queues=True)
        handler.setFormatter(logging.Formatter("%(message)s"))
        return handler

    def close(self, timeout_s: float = 5.0) -> None:
        """Flush what is queued (waiting at most `timeout_s`), then stop the thread."""
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout_s)
        self._thread.join(timeout_s)
        super().close()
