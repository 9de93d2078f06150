"""/strategies against the running app: rules, lifecycle, ownership, paging, runtime, events."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client as NatsClient
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.messages import Event
from core.strategies.runtime import RuntimeStore, from_row, rebuild_runtime
from tests.stubs import bearer, signup

BODY: dict[str, Any] = {
    "name": "Reliance morning", "symbol": "NSE:RELIANCE", "buy_time": "09:20:00",
    "sell_time": "15:10:00", "stop_loss": {"type": "PERCENT", "value": "1.5"},
    "quantity": 5, "broker_credential_id": "paper",
}


async def _user(client: HttpClient, email: str) -> dict[str, str]:
    tokens = await signup(client, email)
    return bearer(tokens["access_token"])


async def _create(client: HttpClient, headers: dict[str, str], **overrides: Any,
                  ) -> dict[str, Any]:
    response = await client.post("/strategies", headers=headers, json={**BODY, **overrides})
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    return body


async def _error(response: Any) -> tuple[int, str]:
    return response.status_code, (await response.get_json())["error_code"]


async def test_create_and_read(client: HttpClient) -> None:
    headers = await _user(client, "a@example.com")
    created = await _create(client, headers, symbol="nse:m&m", target_price="3500.00")
    assert created["id"].startswith("str_")
    assert created["symbol"] == "NSE:M&M"
    assert created["status"] == "CREATED"
    assert created["position"] == "NONE"
    assert created["stop_loss"] == {"type": "PERCENT", "value": "1.5"}
    assert created["target_price"] == "3500.00"
    fetched = await (await client.get(f"/strategies/{created['id']}", headers=headers)
                     ).get_json()
    assert fetched == created


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"symbol": "NSE:NOSUCHCO"}, (422, "STR_001")),
    ({"buy_time": "15:00:00", "sell_time": "10:00:00"}, (422, "STR_002")),
    ({"buy_time": "09:00:00"}, (422, "STR_003")),
    ({"stop_loss": {"type": "PERCENT", "value": "25"}}, (422, "STR_004")),
    ({"quantity": 0}, (422, "STR_005")),
    ({"quantity": 1_000_000}, (422, "STR_005")),
    ({"broker_credential_id": "brk_01JC000000000000000000000"}, (422, "STR_006")),
    ({"target_price": "-1"}, (422, "STR_007")),
    ({"trailing_sl_pct": "50"}, (422, "STR_008")),
    ({"symbol": "RELIANCE"}, (422, "STR_011")),
    ({"stop_loss": None}, (422, "VAL_001")),
])
async def test_every_rule_through_the_api(client: HttpClient, overrides: dict[str, Any],
                                          expected: tuple[int, str]) -> None:
    headers = await _user(client, "rules@example.com")
    body = {k: v for k, v in {**BODY, **overrides}.items() if v is not None}
    response = await client.post("/strategies", headers=headers, json=body)
    assert await _error(response) == expected
    listed = await (await client.get("/strategies", headers=headers)).get_json()
    assert listed["items"] == []  # bad input changes nothing


async def test_price_stop_loss_must_sit_below_the_last_price(client: HttpClient,
                                                            redis: Redis) -> None:
    headers = await _user(client, "sl@example.com")
    await redis.set("ltp:NSE:RELIANCE", 250_000)  # ₹2500.00
    above = await client.post("/strategies", headers=headers, json={
        **BODY, "stop_loss": {"type": "PRICE", "value": "2510"}})
    assert await _error(above) == (422, "STR_004")
    await _create(client, headers, stop_loss={"type": "PRICE", "value": "2450"})


async def test_lifecycle_and_runtime_copy(client: HttpClient, redis: Redis) -> None:
    headers = await _user(client, "life@example.com")
    sid = (await _create(client, headers))["id"]
    store = RuntimeStore(redis)

    started = await (await client.post(f"/strategies/{sid}/start", headers=headers)).get_json()
    assert started["status"] == "RUNNING"
    assert await _error(await client.post(f"/strategies/{sid}/start", headers=headers)) \
        == (409, "STR_009")
    assert await _error(await client.delete(f"/strategies/{sid}", headers=headers)) \
        == (409, "STR_009")
    locked = await client.put(f"/strategies/{sid}", headers=headers, json={"quantity": 9})
    assert await _error(locked) == (409, "STR_010")

    live = await client.put(f"/strategies/{sid}", headers=headers, json={
        "stop_loss": {"type": "PERCENT", "value": "2"}, "sell_time": "15:00:00"})
    assert live.status_code == 200
    body = await live.get_json()
    user_id = (await (await client.get("/auth/me", headers=headers)).get_json())["id"]
    record = await store.get(user_id, sid)
    assert record is not None
    assert record.rev == body["rev"] == started["rev"] + 1
    assert record.stop_loss_value == "2"
    assert record.sell_time == "15:00:00"
    status = await (await client.get(f"/strategies/{sid}/status", headers=headers)).get_json()
    assert status["live"] is True
    assert status["status"] == "RUNNING"

    stopped = await (await client.post(f"/strategies/{sid}/stop", headers=headers)).get_json()
    assert stopped["status"] == "STOPPED"
    assert await store.get_all_active_strategies() == []
    status = await (await client.get(f"/strategies/{sid}/status", headers=headers)).get_json()
    assert status["live"] is False
    assert await _error(await client.post(f"/strategies/{sid}/stop", headers=headers)) \
        == (409, "STR_009")
    edited = await client.put(f"/strategies/{sid}", headers=headers, json={"quantity": 9})
    assert (await edited.get_json())["quantity"] == 9
    restarted = await client.post(f"/strategies/{sid}/start", headers=headers)
    assert restarted.status_code == 200
    await client.post(f"/strategies/{sid}/stop", headers=headers)
    assert (await client.delete(f"/strategies/{sid}", headers=headers)).status_code == 204
    assert (await client.get(f"/strategies/{sid}", headers=headers)).status_code == 404


async def test_another_users_strategy_is_404_everywhere(client: HttpClient) -> None:
    alice = await _user(client, "alice@example.com")
    bob = await _user(client, "bob@example.com")
    sid = (await _create(client, alice))["id"]
    for method, path, body in (
            ("GET", f"/strategies/{sid}", None), ("PUT", f"/strategies/{sid}", {"name": "x"}),
            ("DELETE", f"/strategies/{sid}", None), ("POST", f"/strategies/{sid}/start", None),
            ("POST", f"/strategies/{sid}/stop", None),
            ("GET", f"/strategies/{sid}/status", None)):
        response = await client.open(path, method=method, headers=bob, json=body)
        assert await _error(response) == (404, "SYS_002"), (method, path)
    assert (await (await client.get("/strategies", headers=bob)).get_json())["items"] == []
    assert (await client.get(f"/strategies/{sid}", headers=alice)).status_code == 200


async def test_pagination_is_stable_under_inserts(client: HttpClient) -> None:
    headers = await _user(client, "pages@example.com")
    first_ids = [(await _create(client, headers, name=f"s{i:02d}"))["id"] for i in range(7)]
    page1 = await (await client.get("/strategies?limit=3", headers=headers)).get_json()
    assert [s["id"] for s in page1["items"]] == first_ids[::-1][:3]
    for i in range(3):  # new strategies arrive while the client pages
        await _create(client, headers, name=f"new{i}")
    seen = [s["id"] for s in page1["items"]]
    cursor = page1["next_cursor"]
    while cursor:
        page = await (await client.get(f"/strategies?limit=3&cursor={cursor}",
                                       headers=headers)).get_json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
    assert seen == first_ids[::-1]  # every old one exactly once, none skipped

    by_name = await (await client.get("/strategies?sort=name&limit=4",
                                      headers=headers)).get_json()
    assert [s["name"] for s in by_name["items"]] == ["new0", "new1", "new2", "s00"]
    rest = await (await client.get(f"/strategies?sort=name&limit=20&cursor="
                                   f"{by_name['next_cursor']}", headers=headers)).get_json()
    assert [s["name"] for s in rest["items"]] == [f"s{i:02d}" for i in range(1, 7)]
    wrong = await client.get(f"/strategies?sort=updated&cursor={by_name['next_cursor']}",
                             headers=headers)
    assert await _error(wrong) == (422, "VAL_003")


async def test_filters(client: HttpClient) -> None:
    headers = await _user(client, "filters@example.com")
    infy = await _create(client, headers, symbol="NSE:INFY")
    await _create(client, headers)
    await client.post(f"/strategies/{infy['id']}/start", headers=headers)
    running = await (await client.get("/strategies?status=RUNNING", headers=headers)).get_json()
    assert [s["id"] for s in running["items"]] == [infy["id"]]
    by_symbol = await (await client.get("/strategies?symbol=NSE:RELIANCE",
                                        headers=headers)).get_json()
    assert [s["symbol"] for s in by_symbol["items"]] == ["NSE:RELIANCE"]
    await client.post(f"/strategies/{infy['id']}/stop", headers=headers)


async def test_events_carry_increasing_rev(client: HttpClient, nc: NatsClient) -> None:
    headers = await _user(client, "events@example.com")
    sid = (await _create(client, headers))["id"]
    js = nc.jetstream()
    sub = await js.subscribe(f"events.*.{sid}.*", ordered_consumer=True)
    await client.post(f"/strategies/{sid}/start", headers=headers)
    await client.put(f"/strategies/{sid}", headers=headers, json={"name": "renamed"})
    await client.post(f"/strategies/{sid}/stop", headers=headers)
    events = []
    for _ in range(3):
        msg = await sub.next_msg(timeout=5)
        events.append(msgspec.json.decode(msg.data, type=Event))
        assert msg.headers is not None
        assert msg.headers["Nats-Msg-Id"] == events[-1].id
    await sub.unsubscribe()
    assert [e.type for e in events] == ["STRATEGY_STARTED", "STRATEGY_UPDATED",
                                        "STRATEGY_STOPPED"]
    revs = [e.rev for e in events]
    assert revs == sorted(revs)
    assert len(set(revs)) == 3
    assert events[1].data["changed"] == ["name"]


async def test_runtime_equals_postgres_after_rebuild(
        client: HttpClient, redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> None:
    headers = await _user(client, "rebuild@example.com")
    ids = [(await _create(client, headers, name=f"r{i}"))["id"] for i in range(4)]
    await asyncio.gather(*(client.post(f"/strategies/{sid}/start", headers=headers)
                           for sid in ids[:3]))
    await client.post(f"/strategies/{ids[0]}/stop", headers=headers)
    store = RuntimeStore(redis)
    before = sorted(r.strategy_id for r in await store.get_all_active_strategies())
    assert before == sorted(ids[1:3])
    await redis.flushdb()
    async with sessions() as session:
        assert await rebuild_runtime(session, store) == 2
    after = {r.strategy_id: r for r in await store.get_all_active_strategies()}
    assert sorted(after) == before
    from core.db.models import Strategy

    async with sessions() as session:
        row = await session.get(Strategy, ids[1])
    assert row is not None
    assert after[ids[1]] == from_row(row)


async def test_bulk_start_reports_each_failure(client: HttpClient, redis: Redis) -> None:
    alice = await _user(client, "bulk@example.com")
    bob = await _user(client, "other@example.com")
    good = [(await _create(client, alice, name=f"g{i}"))["id"] for i in range(3)]
    running = (await _create(client, alice, name="running"))["id"]
    await client.post(f"/strategies/{running}/start", headers=alice)
    foreign = (await _create(client, bob, name="bobs"))["id"]
    response = await client.post("/strategies/bulk/start", headers=alice,
                                 json={"ids": [*good, running, foreign, "str_nope"]})
    assert response.status_code == 200
    body = await response.get_json()
    assert sorted(s["id"] for s in body["started"]) == sorted(good)
    assert {f["id"]: f["error_code"] for f in body["failed"]} == {
        running: "STR_009", foreign: "SYS_002", "str_nope": "SYS_002"}
    store = RuntimeStore(redis)
    active = {r.strategy_id: r for r in await store.get_all_active_strategies()}
    assert sorted(active) == sorted([*good, running])
    bobs = await (await client.get(f"/strategies/{foreign}", headers=bob)).get_json()
    assert bobs["status"] == "CREATED"
    assert (await client.post("/strategies/bulk/start", headers=alice,
                              json={"ids": []})).status_code == 422
