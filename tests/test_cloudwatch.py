"""Log shipping to CloudWatch Logs (TASK-153) against a local AWS endpoint: moto's server mode
on loopback, spoken to by the real boto3 client over HTTP."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from core.cloudwatch import CloudWatchHandler, CloudWatchTarget
from core.embedded.process import pick_port
from core.logging import JsonFormatter, cloudwatch_target
from core.trace import set_trace_id
from tests.conftest import make_settings
from tests.stubs import eventually

GROUP = "algo-test"


@pytest.fixture
def aws_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A CloudWatch Logs endpoint on loopback, with throwaway credentials."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    port = pick_port(0)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _events(endpoint: str) -> list[dict[str, Any]]:
    client = boto3.client("logs", region_name="ap-south-1", endpoint_url=endpoint)
    try:
        found = client.filter_log_events(logGroupName=GROUP)["events"]
    except client.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(event["message"]) for event in found]


def _handler(target: CloudWatchTarget) -> tuple[logging.Logger, CloudWatchHandler]:
    handler = CloudWatchHandler(target, "web", JsonFormatter("web"))
    logger = logging.getLogger(f"algo.test.cloudwatch.{time.monotonic_ns()}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, handler


def test_settings_name_the_target(tmp_path: Path) -> None:
    assert cloudwatch_target(make_settings(None, tmp_path)) is None
    target = cloudwatch_target(make_settings(None, tmp_path, cloudwatch_log_group="prod-algo"))
    assert target == CloudWatchTarget("prod-algo", "ap-south-1", None, 10_000)


async def test_json_lines_arrive_in_the_log_group(aws_endpoint: str) -> None:
    logger, handler = _handler(CloudWatchTarget(GROUP, endpoint_url=aws_endpoint,
                                                send_interval_s=1))
    try:
        set_trace_id("trace-cw-1")
        logger.info("order placed", extra={"order_id": "ord_1"})
        logger.warning("broker slow")
        events = await eventually(lambda: (e := _events(aws_endpoint)) and len(e) == 2 and e,
                                  timeout=30, message="events in CloudWatch")
    finally:
        handler.close()
    first = next(e for e in events if e["message"] == "order placed")
    assert first["trace_id"] == "trace-cw-1"
    assert first["order_id"] == "ord_1"
    assert first["service"] == "web"
    assert {e["level"] for e in events} == {"INFO", "WARNING"}


async def test_an_unreachable_endpoint_never_blocks_or_raises() -> None:
    dead = f"http://127.0.0.1:{pick_port(0)}"  # nothing listens there
    logger, handler = _handler(CloudWatchTarget(GROUP, endpoint_url=dead, queue_size=100))
    started = time.perf_counter()
    for i in range(5000):
        logger.info("line %d", i)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"logging waited on AWS: {elapsed:.2f}s for 5000 lines"
    await eventually(lambda: handler.dropped >= 4900, timeout=30,
                     message="records dropped, not queued forever")
    handler.close(timeout_s=1)
