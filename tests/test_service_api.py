"""Every pipeline role answers `$SRV.PING/INFO/STATS` (the NATS service API) with its own
counters, and the database logs slow statements."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.engine import create_engine
from core.embedded.stack import Endpoints
from core.settings import Settings
from pipeline.runner import run_roles
from tests.stubs import eventually

EXPECTED = {
    "executor": {"handled", "dead_lettered", "sent", "adopted"},
    "slwatch": {"armed", "ticks_seen", "breaches", "commands", "latency_p99_ms"},
    "trigger": {"fired", "held", "missed", "strategies", "next_fire_at"},
    "feed": {"ticks_in", "ticks_out", "dropped"},
    "notifier": {"handled", "given_up", "created", "delivered"},
}


async def _request(nc: NatsClient, subject: str) -> dict[str, object]:
    reply = await nc.request(subject, b"", timeout=2)
    body: dict[str, object] = json.loads(reply.data)
    return body


async def test_roles_answer_ping_info_and_stats(settings: Settings, nc: NatsClient) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_roles(["all"], settings, stop=stop))
    try:
        async def registered() -> bool:
            try:
                await _request(nc, "$SRV.PING.algo-notifier")
            except Exception:  # noqa: BLE001 — not yet registered
                return False
            return True

        await eventually(registered, timeout=20, message="roles registered")
        for role, names in EXPECTED.items():
            ping = await _request(nc, f"$SRV.PING.algo-{role}")
            assert ping["type"] == "io.nats.micro.v1.ping_response"
            assert ping["name"] == f"algo-{role}"
            info = await _request(nc, f"$SRV.INFO.algo-{role}")
            endpoints = info["endpoints"]
            assert isinstance(endpoints, list)
            assert endpoints[0]["subject"] == f"algo.service.{role}.counters"
            stats = await _request(nc, f"$SRV.STATS.algo-{role}")
            endpoint_stats = stats["endpoints"]
            assert isinstance(endpoint_stats, list)
            data = endpoint_stats[0]["data"]
            assert names <= set(data), (role, data)
            direct = await _request(nc, f"algo.service.{role}.counters")
            counters = direct["counters"]
            assert isinstance(counters, dict)
            assert direct["role"] == role and names <= set(counters)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def test_slow_statements_are_logged(endpoints: Endpoints, engine: AsyncEngine,
                                          caplog: pytest.LogCaptureFixture) -> None:
    slow = create_engine(endpoints.database_url, slow_query_ms=100)
    try:
        with caplog.at_level(logging.WARNING, logger="algo.db"):
            async with slow.connect() as conn:
                await conn.execute(text("SELECT 1"))
                await conn.execute(text("SELECT pg_sleep(0.15)"))
    finally:
        await slow.dispose()
    records = [r for r in caplog.records if r.name == "algo.db"]
    assert len(records) == 1
    assert records[0].getMessage() == "slow query"
    assert records[0].statement == "SELECT pg_sleep(0.15)"  # type: ignore[attr-defined]
    assert records[0].duration_ms >= 150  # type: ignore[attr-defined]
