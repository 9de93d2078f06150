"""/health/broker, /health/scheduler, /health/execution, and /health/ready with the roles
named by ALGO_READY_ROLES."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import RealClock
from core.connections.health import Health, HealthStore
from core.db.models import BrokerCredential
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.settings import Settings
from pipeline.runner import run_roles
from tests.conftest import make_settings
from tests.stubs import eventually, signup
from web.app import create_app


@pytest.fixture
def ready_settings(endpoints: Endpoints, tmp_path: Path) -> Settings:
    """Readiness that requires the trigger and the executor."""
    return make_settings(endpoints, tmp_path, ready_roles="trigger, executor")


@pytest.fixture
async def rclient(ready_settings: Settings) -> AsyncIterator[HttpClient]:
    """A client of an app with those readiness settings."""
    app: Quart = create_app(ready_settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def test_scheduler_and_execution_follow_the_roles(
        rclient: HttpClient, ready_settings: Settings) -> None:
    for path in ("/health/scheduler", "/health/execution", "/health/ready"):
        response = await rclient.get(path)
        assert response.status_code == 503, path
    ready = await (await rclient.get("/health/ready")).get_json()
    assert ready["failing"] == ["trigger", "executor"]
    assert ready["components"]["executor"]["error"] == "no live executor heartbeat"

    stop = asyncio.Event()
    task = asyncio.create_task(run_roles(["trigger", "executor"], ready_settings, stop=stop))
    try:
        async def is_ready() -> bool:
            return (await rclient.get("/health/ready")).status_code == 200

        await eventually(is_ready, timeout=20, message="ready with both roles")
        scheduler = await (await rclient.get("/health/scheduler")).get_json()
        details = scheduler["components"]["scheduler"]["details"]
        assert 0 <= details["heartbeat_age_s"] < ready_settings.heartbeat_ttl_s
        assert details["next_fire_at"] is None  # nothing is running
        assert details["instances"] == 1 and details["fired"] == 0
        execution = await rclient.get("/health/execution")
        assert execution.status_code == 200
        details = (await execution.get_json())["components"]["execution"]["details"]
        assert details["consumer_lag"] == 0 and details["pending_acks"] == 0
        assert details["in_flight_orders"] == 0 and details["instances"] == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)
    assert (await rclient.get("/health/ready")).status_code == 503


async def test_broker_health_counts_tokens_and_reports_the_latest_probe(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
    user = (await signup(client, "t@example.com"))["user"]["id"]
    now = RealClock().now()
    rows = [BrokerCredential(id=new_id("brk"), user_id=user, broker_type="zerodha",
                             encrypted_access_token=b"x", is_valid=True,
                             token_expires_at=now + timedelta(hours=5)),
            BrokerCredential(id=new_id("brk"), user_id=user, broker_type="zerodha",
                             encrypted_access_token=b"x", is_valid=True,
                             token_expires_at=now - timedelta(hours=1)),
            BrokerCredential(id=new_id("brk"), user_id=user, broker_type="dhan",
                             encrypted_access_token=None, is_valid=False)]
    async with sessions() as session, session.begin():
        session.add_all(rows)
    body = await (await client.get("/health/broker")).get_json()
    assert set(body["components"]) == {"zerodha", "dhan", "fyers", "angel_one", "paper"}
    zerodha = body["components"]["zerodha"]
    assert zerodha["ok"] and zerodha["details"]["reachable"] is None
    assert zerodha["details"]["tokens"] == {"connected": 1, "expired": 1, "invalid": 0,
                                            "pending_login": 0}
    assert body["components"]["dhan"]["details"]["tokens"]["pending_login"] == 1

    await HealthStore(redis).put(rows[0].id, Health(reachable=False, reason="refused",
                                                    checked_at=now.timestamp()))
    response = await client.get("/health/broker")
    assert response.status_code == 503
    body = await response.get_json()
    assert body["failing"] == ["zerodha"]
    assert body["components"]["zerodha"]["error"] == "unreachable: refused"
    assert body["components"]["zerodha"]["details"]["probes_failed"] == 1

    await HealthStore(redis).put(rows[0].id, Health(reachable=True,
                                                    checked_at=now.timestamp() + 1))
    assert (await client.get("/health/broker")).status_code == 200
