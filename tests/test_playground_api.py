"""/playground: simulated strategies only, the caller's own, results from their orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import IST, FakeClock
from core.db.models import Order
from core.ids import new_id
from core.settings import Settings
from pipeline.context import ServiceContext
from pipeline.playground.service import PlaygroundService
from tests.order_kit import at
from tests.stubs import bearer, signup

BODY: dict[str, Any] = {
    "name": "Paper Reliance", "symbol": "NSE:RELIANCE", "buy_time": "09:30:00",
    "sell_time": "15:00:00", "stop_loss": {"type": "PRICE", "value": "980"}, "quantity": 100,
}
DAY = date(2026, 11, 25)


async def _user(client: HttpClient, email: str) -> dict[str, str]:
    return bearer((await signup(client, email))["access_token"])


async def _filled(sessions: async_sessionmaker[AsyncSession], strategy: dict[str, Any],
                  user_id: str, action: str, price: str, hh: int, mm: int) -> None:
    """An order row as the executor leaves a filled simulated order."""
    order_id = new_id("ord")
    async with sessions() as session, session.begin():
        session.add(Order(
            id=order_id, user_id=user_id, strategy_id=strategy["id"], trading_day=DAY,
            action=action, side="BUY" if action == "BUY" else "SELL", exchange="NSE",
            symbol="RELIANCE", quantity=100, broker_type="paper", is_simulated=True,
            client_tag=order_id[-20:], status="FILLED", average_price=Decimal(price),
            filled_quantity=100, completed_at=datetime(2026, 11, 25, hh, mm, tzinfo=IST)))


async def test_create_start_stop_and_results(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    headers = await _user(client, "p@example.com")
    response = await client.post("/playground/strategies", headers=headers, json=BODY)
    assert response.status_code == 201, await response.get_data()
    created = await response.get_json()
    assert (created["is_simulated"], created["broker_credential_id"]) == (True, "paper")
    sid = created["id"]
    started = await client.post(f"/playground/strategies/{sid}/start", headers=headers)
    assert (await started.get_json())["status"] == "RUNNING"
    stopped = await client.post(f"/playground/strategies/{sid}/stop", headers=headers)
    assert (await stopped.get_json())["status"] == "STOPPED"

    me = await (await client.get("/auth/me", headers=headers)).get_json()
    await _filled(sessions, created, me["id"], "BUY", "1000.00", 9, 30)
    await _filled(sessions, created, me["id"], "SL_EXIT", "979.95", 11, 0)
    response = await client.get(f"/playground/results/{sid}", headers=headers)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    [day] = body["days"]
    assert (day["entry_price"], day["exit_price"], day["exit_reason"], day["outcome"]) == (
        "1000.00", "979.95", "stop_loss", "loss")
    assert day["exit_at"] == "2026-11-25T11:00:00+05:30"
    # 100 x -20.05 = -2005; brokerage 20 + 20, STT 0.025% of 97,995 = 24.50, exchange
    # 0.00297% of 197,995 = 5.88, SEBI 0.20, GST 18% of 46.08 = 8.29, stamp 3.00: 81.87.
    assert (day["gross_pnl"], day["charges"]["total"], day["net_pnl"]) == (
        "-2005.00", "81.87", "-2086.87")
    assert (body["gross_pnl"], body["charges"], body["net_pnl"]) == (
        "-2005.00", "81.87", "-2086.87")


async def test_real_and_foreign_strategies_are_not_found(client: HttpClient) -> None:
    owner = await _user(client, "o@example.com")
    other = await _user(client, "x@example.com")
    sim = await (await client.post("/playground/strategies", headers=owner, json=BODY)
                 ).get_json()
    real = await (await client.post("/strategies", headers=owner, json={
        **BODY, "broker_credential_id": "paper"})).get_json()
    assert real["is_simulated"] is False
    # A real strategy is not the playground's, even for its owner; a simulated one is
    # nobody else's.
    assert (await client.post(f"/playground/strategies/{real['id']}/start", headers=owner)
            ).status_code == 404
    assert (await client.post(f"/playground/strategies/{sim['id']}/start", headers=other)
            ).status_code == 404
    assert (await client.get(f"/playground/results/{real['id']}", headers=owner)
            ).status_code == 404
    assert (await client.get(f"/playground/results/{sim['id']}", headers=other)
            ).status_code == 404
    empty = await (await client.get(f"/playground/results/{sim['id']}", headers=owner)
                   ).get_json()
    assert (empty["days"], empty["net_pnl"]) == ([], "0.00")


async def test_a_replay_asked_for_through_the_api(
        client: HttpClient, settings: Settings, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    owner = await _user(client, "r@example.com")
    ids = []
    for symbol, stop in (("NSE:RELIANCE", "0.5"), ("NSE:TCS", "1")):
        body = {**BODY, "symbol": symbol, "stop_loss": {"type": "PERCENT", "value": stop}}
        ids.append((await (await client.post("/playground/strategies", headers=owner,
                                             json=body)).get_json())["id"])
    other = await _user(client, "z@example.com")
    today = await client.post("/playground/replays", headers=owner, json={
        "strategy_ids": ids, "trading_day": datetime.now(IST).date().isoformat()})
    assert today.status_code == 422  # today belongs to live trading
    refused = await client.post("/playground/replays", headers=other, json={
        "strategy_ids": ids, "trading_day": "2026-11-23"})
    assert refused.status_code == 404
    response = await client.post("/playground/replays", headers=owner, json={
        "strategy_ids": ids, "trading_day": "2026-11-23", "seed": 3})
    assert response.status_code == 202, await response.get_data()
    run = await response.get_json()
    assert run["status"] == "PENDING"

    service = PlaygroundService(ServiceContext(
        nc=nc, js=js, sessions=sessions, redis=redis, clock=FakeClock(at(16, 0)),
        settings=settings, instance="test-playground"))
    try:
        assert await service.run_once()
        assert not await service.run_once()  # nothing else pending
    finally:
        await service.on_stop()
    done = await (await client.get(f"/playground/replays/{run['id']}", headers=owner)
                  ).get_json()
    assert (done["status"], done["error"], done["ticks"]) == ("DONE", None, 2 * 22_500)
    assert sorted(r["strategy_id"] for r in done["results"]) == sorted(ids)
    assert all(r["entry_at"] == "2026-11-23T09:30:00+05:30" and r["max_drawdown"] is not None
               for r in done["results"])
    assert (await client.get(f"/playground/replays/{run['id']}", headers=other)
            ).status_code == 404
    # The replay's orders are the strategies' simulated orders: the results agree.
    for result in done["results"]:
        days = (await (await client.get(f"/playground/results/{result['strategy_id']}",
                                        headers=owner)).get_json())["days"]
        assert [(d["entry_price"], d["exit_price"], d["net_pnl"]) for d in days] == [
            (result["entry_price"], result["exit_price"], result["net_pnl"])]
