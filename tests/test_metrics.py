"""/metrics: Prometheus text that parses, names every promised metric, and counts HTTP
requests across web worker processes (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import time
from decimal import Decimal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import RealClock, trading_day
from core.db.models import Order, Strategy
from core.embedded.process import pick_port
from core.embedded.stack import Endpoints
from core.ids import new_id
from tests.stubs import eventually, signup

PROMISED = {
    "algo_http_request_duration_seconds",  # HTTP latency by route and status
    "algo_orders_today",                   # orders by status and broker
    "algo_order_latency_seconds",
    "algo_sl_trigger_latency_seconds",
    "algo_strategies_running",
    "algo_ticks_in", "algo_ticks_out", "algo_ticks_per_second",
    "algo_consumer_lag", "algo_consumer_ack_pending", "algo_consumer_redelivered",
    "algo_errors_recent", "algo_error_rate_per_minute",
    "algo_role_instances", "algo_role_heartbeat_age_seconds", "algo_role_counter",
}


def _samples(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    return {f.name: [(s.name, s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def _requests(families: dict[str, list[tuple[str, dict[str, str], float]]],
              route: str) -> float:
    return sum(v for name, labels, v in families["algo_http_request_duration_seconds"]
               if name.endswith("_count") and labels["route"] == route)


async def test_metrics_parse_and_name_everything(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    user = (await signup(client, "t@example.com"))["user"]["id"]
    async with sessions() as session, session.begin():
        strategy = Strategy(id=new_id("str"), user_id=user, name="s", exchange="NSE",
                            symbol="INFY", buy_time=time(9, 30), sell_time=time(15, 0),
                            stop_loss_type="PRICE", stop_loss_value=Decimal("1400"),
                            quantity=1, status="RUNNING", position="NONE")
        session.add(strategy)
        await session.flush()
        oid = new_id("ord")
        session.add(Order(id=oid, user_id=user, strategy_id=strategy.id,
                          trading_day=trading_day(RealClock()), action="BUY", side="BUY",
                          exchange="NSE", symbol="INFY", quantity=1, broker_type="paper",
                          client_tag=oid, status="FILLED", sent_at=RealClock().now()))
    before = _samples(await (await client.get("/metrics")).get_data(as_text=True))
    for _ in range(3):
        assert (await client.get("/health/live")).status_code == 200
    assert (await client.get(f"/strategies/{new_id('str')}")).status_code == 401
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    families = _samples(await response.get_data(as_text=True))
    assert set(families) >= PROMISED, PROMISED - set(families)
    assert _requests(families, "/health/live") - _requests(before, "/health/live") == 3
    assert any(labels == {"method": "GET", "route": "/strategies/<strategy_id>",
                          "status": "401", "le": "0.05"}
               for _, labels, _ in families["algo_http_request_duration_seconds"])
    assert ("algo_orders_today", {"status": "FILLED", "broker": "paper"}, 1.0) \
        in families["algo_orders_today"]
    assert families["algo_strategies_running"] == [("algo_strategies_running", {}, 1.0)]
    assert ("algo_ticks_in_total", {}, 0.0) in families["algo_ticks_in"]
    # The web's own SSE fan-out follows EVENTS with a consumer: its lag is listed.
    assert any(labels["stream"] == "EVENTS" for _, labels, _ in families["algo_consumer_lag"])


async def test_workers_share_their_counts(endpoints: Endpoints, tmp_path: Path) -> None:
    port = pick_port(0)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ALGO_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(ALGO_ENV="dev", ALGO_NATS_URL=endpoints.nats_url, ALGO_DATA_DIR=str(tmp_path),
               ALGO_DATABASE_URL=endpoints.database_url, ALGO_REDIS_URL=endpoints.redis_url,
               ALGO_WEB_PORT=str(port), ALGO_WEB_WORKERS="2", ALGO_LOG_LEVEL="WARNING")
    stale = tmp_path / "prometheus" / "histogram_1.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left by an earlier run")
    proc = subprocess.Popen([sys.executable, "-m", "web"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/health/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=60, message="two workers ready")
            assert not stale.exists()
            for _ in range(40):  # new connections: the kernel spreads them over both workers
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as one:
                    assert (await one.get("/health/live")).status_code == 200
            files = {p.name.split("_")[0] for p in (tmp_path / "prometheus").iterdir()}
            assert files == {"histogram"}
            assert len(list((tmp_path / "prometheus").iterdir())) == 2  # one per worker
            for _ in range(4):  # whichever worker answers, it reports both workers' counts
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as one:
                    text = (await one.get("/metrics")).text
                assert _requests(_samples(text), "/health/live") == 40
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
