"""/admin/system/health and /admin/system/metrics: admins only; every component, every role,
JetStream consumers and the NATS server's own monitoring; aggregates from PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import RealClock, trading_day
from core.db.models import ErrorLog, Order, Strategy
from core.embedded.stack import Endpoints
from core.ids import new_id
from core.settings import Settings
from pipeline.runner import run_roles
from tests.conftest import make_settings
from tests.stubs import PASSWORD, bearer, eventually, login, make_admin, signup
from web.app import create_app


@pytest.fixture
def monitored_settings(endpoints: Endpoints, tmp_path: object) -> Settings:
    """Settings that name the embedded NATS server's monitoring port."""
    assert endpoints.nats_monitor_url
    return make_settings(endpoints, tmp_path,  # type: ignore[arg-type]
                         nats_monitor_url=endpoints.nats_monitor_url,
                         ready_roles="executor,trigger")


@pytest.fixture
async def mclient(monitored_settings: Settings) -> AsyncIterator[HttpClient]:
    """A client of an app that knows the NATS monitoring URL."""
    app: Quart = create_app(monitored_settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


@pytest.fixture
async def roles(monitored_settings: Settings) -> AsyncIterator[None]:
    """The trigger, executor and feed running in this process."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_roles(["feed", "trigger", "executor"], monitored_settings,
                                         stop=stop))
    yield
    stop.set()
    await asyncio.wait_for(task, timeout=15)


async def test_non_admins_get_403(mclient: HttpClient,
                                  sessions: async_sessionmaker[AsyncSession]) -> None:
    trader = await signup(mclient, "trader@example.com")
    admin = await make_admin(mclient, sessions)
    created = await mclient.post("/admin/users", headers=bearer(admin["access_token"]),
                                 json={"email": "ops@example.com", "password": PASSWORD,
                                       "role": "broker"})
    assert created.status_code == 201
    ops = await login(mclient, "ops@example.com")
    for tokens in (trader, ops):
        for path in ("/admin/system/health", "/admin/system/metrics"):
            response = await mclient.get(path, headers=bearer(tokens["access_token"]))
            assert response.status_code == 403, path
            assert (await response.get_json())["error_code"] == "AUTH_002"
    for path in ("/admin/system/health", "/admin/system/metrics"):
        assert (await mclient.get(path)).status_code == 401


async def test_system_health_shows_roles_consumers_and_the_nats_server(
        mclient: HttpClient, sessions: async_sessionmaker[AsyncSession], roles: None) -> None:
    headers = bearer((await make_admin(mclient, sessions))["access_token"])

    body: dict[str, Any] = {}

    async def all_up() -> bool:
        # A report is shared for a few seconds (as_of says when it was taken): wait for one
        # taken once every role beats and the executor's consumer exists.
        response = await mclient.get("/admin/system/health", headers=headers)
        assert response.status_code == 200
        body.update(await response.get_json())
        commands = [s for s in body["streams"] if s["name"] == "COMMANDS"]
        return bool(body["status"] == "ok" and commands
                    and any(c["name"] == "executor" for c in commands[0]["consumers"]))

    await eventually(all_up, timeout=20, message="roles beating")
    assert body["failing"] == [c for c, v in body["components"].items() if not v["ok"]]
    for name in ("db", "redis", "nats", "scheduler", "execution", "executor", "trigger",
                 "paper", "zerodha"):
        assert name in body["components"], name
    assert body["components"]["db"]["ok"] and body["components"]["execution"]["ok"]
    assert set(body["roles"]) >= {"feed", "trigger", "slwatch", "executor", "notifier"}
    assert body["roles"]["executor"]["up"] and not body["roles"]["slwatch"]["up"]
    executor = body["roles"]["executor"]["instances"][0]
    assert executor["heartbeat_age_s"] >= 0 and executor["pid"] > 0
    assert {"handled", "sent", "dead_lettered"} <= set(executor["counters"])
    assert "next_fire_at" in body["roles"]["trigger"]["instances"][0]["counters"]
    assert "ticks_in" in body["roles"]["feed"]["instances"][0]["counters"]
    streams = {s["name"]: s for s in body["streams"]}
    assert {"COMMANDS", "EVENTS", "DLQ", "TICKS"} <= set(streams)
    consumers = {c["name"]: c for c in streams["COMMANDS"]["consumers"]}
    assert {"pending", "ack_pending", "redelivered"} <= set(consumers["executor"])
    server = body["nats_server"]
    assert server["ok"], server["error"]
    assert server["varz"]["version"] and server["varz"]["connections"] >= 1
    assert server["jsz"]["streams"] >= 4


async def test_system_health_without_monitoring_url_says_why(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    headers = bearer((await make_admin(client, sessions))["access_token"])
    body = await (await client.get("/admin/system/health", headers=headers)).get_json()
    assert body["nats_server"] == {"url": None, "ok": False,
                                   "error": "ALGO_NATS_MONITOR_URL is not set",
                                   "varz": {}, "jsz": {}}
    assert body["status"] == "ok"  # no role is required by these settings
    assert not body["components"]["scheduler"]["ok"]


async def _seed(sessions: async_sessionmaker[AsyncSession], user_id: str) -> None:
    now = RealClock().now()
    day = trading_day(RealClock())
    async with sessions() as session, session.begin():
        strategies = [Strategy(id=new_id("str"), user_id=user_id, name=f"s{i}", exchange="NSE",
                               symbol="INFY", buy_time=time(9, 30), sell_time=time(15, 0),
                               stop_loss_type="PRICE", stop_loss_value=Decimal("1400"),
                               quantity=1, status=status, position="NONE")
                      for i, status in enumerate(("RUNNING", "RUNNING", "STOPPED"))]
        session.add_all(strategies)
        await session.flush()
        for strategy, (status, broker, action) in zip(
                strategies, (("FILLED", "paper", "BUY"), ("REJECTED", "zerodha", "BUY"),
                             ("FILLED", "paper", "SELL")), strict=True):
            oid = new_id("ord")
            session.add(Order(id=oid, user_id=user_id, strategy_id=strategy.id,
                              trading_day=day, action=action, side=action, exchange="NSE",
                              symbol="INFY", quantity=1, broker_type=broker, client_tag=oid,
                              status=status, created_at=now - timedelta(milliseconds=40),
                              sent_at=now - timedelta(milliseconds=30), completed_at=now))
        session.add_all([ErrorLog(level=level, service="web", logger="t", message="boom",
                                  context={}) for level in ("ERROR", "ERROR", "CRITICAL")])


async def test_system_metrics(mclient: HttpClient,
                              sessions: async_sessionmaker[AsyncSession]) -> None:
    headers = bearer((await make_admin(mclient, sessions))["access_token"])
    trader = await signup(mclient, "t@example.com")
    await _seed(sessions, trader["user"]["id"])
    response = await mclient.get("/admin/system/metrics", headers=headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["users"] == {"active": 2, "with_running_strategies": 1}
    assert body["running_strategies"] == 2
    orders = body["orders_today"]
    assert orders["total"] == 3
    assert orders["by_status"] == {"FILLED": 2, "REJECTED": 1}
    assert orders["by_broker"] == {"paper": 2, "zerodha": 1}
    sent = body["order_latency_ms"]["sent"]
    assert sent["count"] == 3 and 5 <= sent["p50_ms"] <= 15
    assert 35 <= body["order_latency_ms"]["completed"]["p99_ms"] <= 45
    assert body["errors"]["by_level"] == {"ERROR": 2, "CRITICAL": 1}
    assert body["errors"]["rate_per_min"] == pytest.approx(3 / 15, abs=0.001)
    assert body["sl_latency_ms"]["count"] == 0 and body["sl_latency_ms"]["p99_ms"] is None
    assert body["ticks"]["in_total"] == 0
    assert set(body["roles"]) >= {"executor", "trigger"}
    assert isinstance(body["consumers"], list)
