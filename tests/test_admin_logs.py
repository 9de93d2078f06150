"""/admin/logs/orders and /admin/audit: filters and paging (ADM-4, ADM-5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.admin_kit import add_order, add_strategy, audit_rows, roles


async def test_order_logs_filter_and_page(client: HttpClient,
                                          sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = await roles(client, sessions)
    headers = accounts.admin_headers
    trader = accounts.trader["user"]["id"]
    one = await add_strategy(sessions, trader, symbol="INFY")
    two = await add_strategy(sessions, accounts.admin["user"]["id"], symbol="TCS")
    buy = await add_order(sessions, one, action="BUY", trace_id="trace-1")
    sell = await add_order(sessions, one, action="SELL", status="REJECTED")
    other = await add_order(sessions, two, action="BUY")

    async def orders(query: str) -> list[str]:
        response = await client.get(f"/admin/logs/orders{query}", headers=headers)
        assert response.status_code == 200, await response.get_data()
        return [e["order_id"] for e in (await response.get_json())["items"]]

    assert await orders("") == [other.id, sell.id, buy.id]
    assert await orders(f"?user_id={trader}") == [sell.id, buy.id]
    assert await orders(f"?strategy_id={two.id}") == [other.id]
    assert await orders(f"?order_id={buy.id}") == [buy.id]
    assert await orders("?action=SELL") == [sell.id]
    assert await orders("?status=REJECTED") == [sell.id]
    assert await orders("?trace_id=trace-1") == [buy.id]
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert await orders(f"?until={future}") == [other.id, sell.id, buy.id]
    assert await orders(f"?since={future}") == []
    page = await (await client.get("/admin/logs/orders?limit=2", headers=headers)).get_json()
    assert [e["order_id"] for e in page["items"]] == [other.id, sell.id]
    first = page["items"][0]
    assert (first["attempt"], first["outcome"], first["latency_ms"]) == (1, "accepted", 1.5)
    assert first["request"] == {"qty": 1}
    assert await orders(f"?cursor={page['next_cursor']}") == [buy.id]
    assert (await client.get("/admin/logs/orders?since=yesterday",
                             headers=headers)).status_code == 422
    # Reading logs is not an admin action that changes anything: not audited.
    assert await audit_rows(sessions) == []


async def test_audit_log_filters_and_pages(client: HttpClient,
                                           sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = await roles(client, sessions)
    headers = accounts.admin_headers
    admin_id = accounts.admin["user"]["id"]
    trader = accounts.trader["user"]["id"]
    running = await add_strategy(sessions, trader, status="RUNNING", symbol="INFY")
    for reason in ("first", "second"):
        await client.post("/admin/system/halt", headers=headers,
                          json={"scope": "global", "reason": reason})
        await client.delete("/admin/system/halt/global", headers=headers)
    stopped = await client.post(f"/admin/strategies/{running.id}/force-stop", headers=headers,
                                json={"reason": "test"})
    assert stopped.status_code == 200
    everything = await audit_rows(sessions)
    assert len(everything) >= 5

    async def actions(query: str) -> list[str]:
        response = await client.get(f"/admin/audit{query}", headers=headers)
        assert response.status_code == 200, await response.get_data()
        return [e["action"] for e in (await response.get_json())["items"]]

    newest_first = [r.action for r in reversed(everything)]
    assert await actions("?limit=500") == newest_first
    assert await actions("?action=admin.strategies.force_stop") == [
        "admin.strategies.force_stop"]
    assert await actions(f"?target_type=strategy&target_id={running.id}") == [
        "admin.strategies.force_stop"]
    assert await actions(f"?actor_id={admin_id}&limit=500") == newest_first
    assert await actions(f"?actor_id={trader}") == []
    page = await (await client.get("/admin/audit?limit=2", headers=headers)).get_json()
    assert [e["action"] for e in page["items"]] == newest_first[:2]
    assert page["items"][0]["actor_role"] == "admin"
    assert page["items"][0]["details"]["reason"] == "test"
    rest = await actions(f"?limit=500&cursor={page['next_cursor']}")
    assert rest == newest_first[2:]
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert await actions(f"?since={future}") == []
    assert (await client.get("/admin/audit?cursor=nope", headers=headers)).status_code == 422
