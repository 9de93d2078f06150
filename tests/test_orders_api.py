"""/orders: a user sees their own orders and attempts, never another's."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import Order, OrderLog, Strategy
from core.ids import new_id
from tests.stubs import bearer, signup


async def _orders_of(sessions: async_sessionmaker[AsyncSession], user_id: str,
                     count: int) -> list[str]:
    ids = []
    async with sessions() as session, session.begin():
        strategy = Strategy(id=new_id("str"), user_id=user_id, name="s", exchange="NSE",
                            symbol="INFY", buy_time=time(9, 30), sell_time=time(15, 0),
                            stop_loss_type="PRICE", stop_loss_value=Decimal("1400"),
                            quantity=5, status="RUNNING", position="NONE", rev=1)
        session.add(strategy)
        await session.flush()
        for n in range(count):
            order_id = new_id("ord")
            ids.append(order_id)
            session.add(Order(id=order_id, user_id=user_id, strategy_id=strategy.id,
                              trading_day=date(2026, 11, 2 + n), action="BUY", side="BUY",
                              exchange="NSE", symbol="INFY", quantity=5, broker_type="paper",
                              client_tag=order_id, status="FILLED",
                              average_price=Decimal("1500.05"), filled_quantity=5,
                              attempts=1))
            await session.flush()
            session.add(OrderLog(order_id=order_id, strategy_id=strategy.id, user_id=user_id,
                                 attempt=1, action="BUY", status="FILLED", outcome="accepted",
                                 request={"client_tag": order_id}, latency_us=1500))
    return ids


async def test_orders_are_listed_newest_first_with_attempts(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    alice = await signup(client, "alice@example.com")
    bob = await signup(client, "bob@example.com")
    ids = await _orders_of(sessions, alice["user"]["id"], 3)

    page = await client.get("/orders?limit=2", headers=bearer(alice["access_token"]))
    body = await page.get_json()
    assert [o["id"] for o in body["items"]] == [ids[2], ids[1]]
    assert body["items"][0]["average_price"] == "1500.05"
    rest = await client.get(f"/orders?limit=2&cursor={body['next_cursor']}",
                            headers=bearer(alice["access_token"]))
    assert [o["id"] for o in (await rest.get_json())["items"]] == [ids[0]]
    day = await client.get("/orders?trading_day=2026-11-03",
                           headers=bearer(alice["access_token"]))
    assert [o["id"] for o in (await day.get_json())["items"]] == [ids[1]]

    detail = await client.get(f"/orders/{ids[0]}", headers=bearer(alice["access_token"]))
    assert detail.status_code == 200
    attempts = (await detail.get_json())["attempts_log"]
    assert [(a["outcome"], a["latency_ms"]) for a in attempts] == [("accepted", 1.5)]

    # Another user sees none of it.
    assert (await (await client.get("/orders", headers=bearer(bob["access_token"])))
            .get_json())["items"] == []
    hidden = await client.get(f"/orders/{ids[0]}", headers=bearer(bob["access_token"]))
    assert hidden.status_code == 404
    assert (await hidden.get_json())["error_code"] == "SYS_002"


async def test_orders_need_a_login(client: HttpClient) -> None:
    response = await client.get("/orders")
    assert response.status_code == 401
