"""Health endpoints, including with Redis or NATS stopped under a running app."""

from __future__ import annotations

import httpx
import pytest
from quart.typing import TestClientProtocol as HttpClient

from core.embedded.nats_server import EmbeddedNats
from core.embedded.redis_server import EmbeddedRedis
from tests.stubs import eventually


async def test_all_healthy(client: HttpClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["components"]) == {"db", "redis", "nats"}
    for component in body["components"].values():
        assert component["ok"] is True
        assert component["latency_ms"] >= 0


@pytest.mark.parametrize(("path", "name"), [("/health/db", "db"), ("/health/redis", "redis"),
                                       ("/health/nats", "nats")])
async def test_single_component(client: HttpClient, path: str, name: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    body = await response.get_json()
    assert list(body["components"]) == [name]
    assert body["components"][name]["latency_ms"] is not None


async def test_live_touches_nothing(client: HttpClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_redis_down_is_named_and_recovers(
        fragile_client: HttpClient,
        private_servers: tuple[EmbeddedNats, EmbeddedRedis]) -> None:
    _, redis = private_servers
    assert (await fragile_client.get("/health/ready")).status_code == 200
    redis.stop()

    response = await fragile_client.get("/health/redis")
    assert response.status_code == 503
    body = await response.get_json()
    assert body["failing"] == ["redis"]
    assert body["components"]["redis"]["error"]

    ready = await fragile_client.get("/health/ready")
    assert ready.status_code == 503
    assert (await ready.get_json())["failing"] == ["redis"]
    assert (await fragile_client.get("/health/db")).status_code == 200
    assert (await fragile_client.get("/health/nats")).status_code == 200
    assert (await fragile_client.get("/health/live")).status_code == 200

    redis.start()

    async def recovered() -> bool:
        return (await fragile_client.get("/health/ready")).status_code == 200

    await eventually(recovered, timeout=10, message="readiness after Redis restart")


async def test_nats_down_is_named_and_recovers(
        fragile_client: HttpClient,
        private_servers: tuple[EmbeddedNats, EmbeddedRedis]) -> None:
    nats, _ = private_servers
    nats.stop()

    async def nats_failing() -> bool:
        return (await fragile_client.get("/health/nats")).status_code == 503

    await eventually(nats_failing, timeout=10, message="NATS reported down")
    ready = await fragile_client.get("/health/ready")
    assert ready.status_code == 503
    body = await ready.get_json()
    assert body["failing"] == ["nats"]
    assert body["components"]["db"]["ok"] and body["components"]["redis"]["ok"]
    assert (await fragile_client.get("/health")).status_code == 503

    nats.start()

    async def recovered() -> bool:
        return (await fragile_client.get("/health/ready")).status_code == 200

    await eventually(recovered, timeout=15, message="readiness after NATS restart")


async def test_served_over_real_http(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        response = await http.get("/health/ready", headers={"X-Request-ID": "probe-1"})
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == "probe-1"
        missing = await http.get("/nope")
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "SYS_002"
