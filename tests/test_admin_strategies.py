"""/admin/strategies (ADM-2): every user's strategies, detail, audited force-stop; and the
role checks of every admin endpoint this part adds."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.messages import OrderCommand, decoder
from tests.admin_kit import add_order, add_strategy, audit_rows, roles

ENDPOINTS = [
    ("GET", "/admin/strategies"), ("GET", "/admin/strategies/str_x"),
    ("POST", "/admin/strategies/str_x/force-stop"),
    ("GET", "/admin/dlq"), ("GET", "/admin/dlq/1"), ("POST", "/admin/dlq/1/retry"),
    ("DELETE", "/admin/dlq/1"),
    ("GET", "/admin/logs/orders"), ("GET", "/admin/logs/errors"), ("GET", "/admin/audit"),
]


async def test_user_and_broker_roles_get_403_everywhere(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = await roles(client, sessions)
    for headers in accounts.others:
        for method, path in ENDPOINTS:
            response = await client.open(path, method=method, headers=headers,
                                         json={"reason": "x"})
            assert response.status_code == 403, (method, path)
            assert (await response.get_json())["error_code"] == "AUTH_002"
    for method, path in ENDPOINTS:
        response = await client.open(path, method=method, json={"reason": "x"})
        assert response.status_code == 401, (method, path)
    assert await audit_rows(sessions) == []


async def test_list_filters_and_pages_across_users(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = await roles(client, sessions)
    headers = accounts.admin_headers
    trader = accounts.trader["user"]["id"]
    other = accounts.admin["user"]["id"]
    a = await add_strategy(sessions, trader, status="RUNNING", symbol="INFY")
    b = await add_strategy(sessions, trader, status="STOPPED", symbol="TCS", simulated=True)
    c = await add_strategy(sessions, other, status="RUNNING", symbol="INFY")

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/admin/strategies{query}", headers=headers)
        assert response.status_code == 200, await response.get_data()
        return [s["id"] for s in (await response.get_json())["items"]]

    assert await ids("") == [c.id, b.id, a.id]
    assert await ids(f"?user_id={trader}") == [b.id, a.id]
    assert await ids("?status=RUNNING") == [c.id, a.id]
    assert await ids("?symbol=NSE:INFY") == [c.id, a.id]
    assert await ids("?simulated=true") == [b.id]
    assert await ids("?broker=paper") == [c.id, b.id, a.id]
    assert await ids("?broker=zerodha") == []
    page1 = await (await client.get("/admin/strategies?limit=2", headers=headers)).get_json()
    assert [s["id"] for s in page1["items"]] == [c.id, b.id]
    assert page1["items"][0]["user_email"] == "root@example.com"
    assert page1["items"][1]["broker_type"] == "paper"
    page2 = await (await client.get(f"/admin/strategies?limit=2&cursor={page1['next_cursor']}",
                                    headers=headers)).get_json()
    assert [s["id"] for s in page2["items"]] == [a.id]
    assert page2["next_cursor"] is None
    bad = await client.get("/admin/strategies?status=NOPE&broker=ibkr", headers=headers)
    assert bad.status_code == 422


async def test_detail_has_the_order_history(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = await roles(client, sessions)
    strategy = await add_strategy(sessions, accounts.trader["user"]["id"], status="RUNNING",
                                  position="SOLD")
    buy = await add_order(sessions, strategy, action="BUY")
    sell = await add_order(sessions, strategy, action="SELL")
    response = await client.get(f"/admin/strategies/{strategy.id}",
                                headers=accounts.admin_headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["strategy"]["user_id"] == accounts.trader["user"]["id"]
    assert body["strategy"]["user_email"] == "trader@example.com"
    assert [o["id"] for o in body["orders"]] == [sell.id, buy.id]
    missing = await client.get("/admin/strategies/str_01JC000000000000000000000X",
                               headers=accounts.admin_headers)
    assert missing.status_code == 404


async def test_force_stop_squares_off_then_stops_and_is_audited(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext) -> None:
    accounts = await roles(client, sessions)
    trader = accounts.trader["user"]["id"]
    strategy = await add_strategy(sessions, trader, status="RUNNING", position="BOUGHT")
    response = await client.post(f"/admin/strategies/{strategy.id}/force-stop",
                                 headers=accounts.admin_headers, json={"reason": "runaway"})
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    assert body["stopped"] is True
    assert body["square_off"] is True
    assert body["strategy"]["status"] == "STOPPED"
    assert body["strategy"]["status_reason"] == "force-stopped by admin: runaway"
    command = await js.get_last_msg(subjects.COMMANDS,
                                    subjects.order_command(trader, strategy.id))
    sent = decoder(OrderCommand).decode(command.data or b"")
    assert (sent.action, sent.reason) == ("SQUARE_OFF", "square_off")
    [row] = await audit_rows(sessions, "admin.strategies.force_stop")
    assert row.actor_id == accounts.admin["user"]["id"]
    assert row.target_id == strategy.id
    assert row.details["before"] == {"status": "RUNNING", "position": "BOUGHT"}
    assert row.details["after"] == {"status": "STOPPED", "position": "BOUGHT"}
    assert row.details["reason"] == "runaway"

    # Stopped but still holding (the executor has not sold yet): only the square-off again.
    again = await client.post(f"/admin/strategies/{strategy.id}/force-stop",
                              headers=accounts.admin_headers, json={"reason": "again"})
    assert (await again.get_json())["stopped"] is False
    assert (await again.get_json())["square_off"] is True
    assert len(await audit_rows(sessions, "admin.strategies.force_stop")) == 2


@pytest.mark.parametrize(("status", "position"), [("CREATED", "NONE"), ("STOPPED", "SOLD")])
async def test_force_stop_with_nothing_to_stop_is_409(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession], status: str,
        position: str) -> None:
    accounts = await roles(client, sessions)
    strategy = await add_strategy(sessions, accounts.trader["user"]["id"], status=status,
                                  position=position)
    response = await client.post(f"/admin/strategies/{strategy.id}/force-stop",
                                 headers=accounts.admin_headers, json={"reason": "x"})
    assert response.status_code == 409
    assert (await response.get_json())["error_code"] == "STR_009"
    assert await audit_rows(sessions, "admin.strategies.force_stop") == []
