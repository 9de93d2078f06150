"""/admin/users: admins only, every call audited, soft delete ends access and strategies."""

from __future__ import annotations

from datetime import time

from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import AuditLog, Strategy
from core.ids import new_id
from core.strategies.runtime import RuntimeStore, from_row
from tests.stubs import PASSWORD, bearer, login, make_admin, signup


async def _audit(sessions: async_sessionmaker[AsyncSession]) -> list[AuditLog]:
    async with sessions() as session:
        return list((await session.execute(
            select(AuditLog).order_by(AuditLog.id))).scalars())


async def test_non_admins_get_403(client: HttpClient,
                                  sessions: async_sessionmaker[AsyncSession]) -> None:
    trader = await signup(client, "trader@example.com")
    admin = await make_admin(client, sessions)
    operator = await (await client.post(
        "/admin/users", headers=bearer(admin["access_token"]),
        json={"email": "ops@example.com", "password": PASSWORD, "role": "broker"})).get_json()
    assert operator["role"] == "broker"
    ops = await login(client, "ops@example.com")
    for tokens in (trader, ops):
        for method, path in (("GET", "/admin/users"), ("POST", "/admin/users"),
                             ("GET", f"/admin/users/{trader['user']['id']}"),
                             ("DELETE", f"/admin/users/{trader['user']['id']}")):
            response = await client.open(path, method=method,
                                         headers=bearer(tokens["access_token"]),
                                         json={"email": "z@example.com", "password": PASSWORD})
            assert response.status_code == 403, (method, path)
            assert (await response.get_json())["error_code"] == "AUTH_002"
    assert (await client.get("/admin/users")).status_code == 401


async def test_list_filters_search_and_pages(client: HttpClient,
                                             sessions: async_sessionmaker[AsyncSession]) -> None:
    admin = await make_admin(client, sessions)
    headers = bearer(admin["access_token"])
    for i in range(5):
        await signup(client, f"user{i}@example.com")
    page1 = await (await client.get("/admin/users?limit=2&role=user",
                                    headers=headers)).get_json()
    assert [u["email"] for u in page1["items"]] == ["user4@example.com", "user3@example.com"]
    page2 = await (await client.get(f"/admin/users?limit=2&role=user&cursor="
                                    f"{page1['next_cursor']}", headers=headers)).get_json()
    assert [u["email"] for u in page2["items"]] == ["user2@example.com", "user1@example.com"]
    page3 = await (await client.get(f"/admin/users?limit=2&role=user&cursor="
                                    f"{page2['next_cursor']}", headers=headers)).get_json()
    assert [u["email"] for u in page3["items"]] == ["user0@example.com"]
    assert page3["next_cursor"] is None
    found = await (await client.get("/admin/users?q=USER3", headers=headers)).get_json()
    assert [u["email"] for u in found["items"]] == ["user3@example.com"]
    admins = await (await client.get("/admin/users?role=admin", headers=headers)).get_json()
    assert [u["email"] for u in admins["items"]] == ["root@example.com"]
    bad = await client.get("/admin/users?limit=0&cursor=nope", headers=headers)
    assert bad.status_code == 422
    assert (await bad.get_json())["error_code"] == "VAL_001"


async def test_detail_update_and_audit(client: HttpClient,
                                       sessions: async_sessionmaker[AsyncSession]) -> None:
    admin = await make_admin(client, sessions)
    headers = bearer(admin["access_token"])
    trader = await signup(client, "t@example.com")
    uid = trader["user"]["id"]
    async with sessions() as session, session.begin():
        session.add(Strategy(id=new_id("str"), user_id=uid, name="s", exchange="NSE",
                             symbol="INFY", buy_time=time(9, 20), sell_time=time(15, 0),
                             stop_loss_type="PRICE", stop_loss_value=1400, quantity=1,
                             status="CREATED", position="NONE"))
    detail = await (await client.get(f"/admin/users/{uid}", headers=headers)).get_json()
    assert detail["strategy_count"] == 1
    assert detail["last_login_at"] is not None

    updated = await client.put(f"/admin/users/{uid}", headers=headers,
                               json={"is_active": False})
    assert updated.status_code == 200
    assert (await updated.get_json())["is_active"] is False
    me = await client.get("/auth/me", headers=bearer(trader["access_token"]))
    assert me.status_code == 401

    promoted = await client.put(f"/admin/users/{uid}", headers=headers,
                                json={"role": "broker", "is_active": True})
    assert (await promoted.get_json())["role"] == "broker"
    empty = await client.put(f"/admin/users/{uid}", headers=headers, json={})
    assert empty.status_code == 422
    missing = await client.get(f"/admin/users/{new_id('usr')}", headers=headers)
    assert missing.status_code == 404

    rows = await _audit(sessions)
    actions = [r.action for r in rows]
    assert actions == ["admin.users.view", "admin.users.update", "admin.users.update"]
    last = rows[-1]
    assert last.actor_id == admin["user"]["id"]
    assert last.actor_role == "admin"
    assert last.target_id == uid
    assert last.details["before"] == {"role": "user", "is_active": False}
    assert last.details["after"] == {"role": "broker", "is_active": True}
    assert last.ip
    assert last.trace_id


async def test_create_with_role_and_duplicate(client: HttpClient,
                                              sessions: async_sessionmaker[AsyncSession]) -> None:
    admin = await make_admin(client, sessions)
    headers = bearer(admin["access_token"])
    created = await client.post("/admin/users", headers=headers,
                                json={"email": "New@Example.com", "password": PASSWORD,
                                      "role": "admin"})
    assert created.status_code == 201
    assert (await created.get_json())["email"] == "new@example.com"
    dup = await client.post("/admin/users", headers=headers,
                            json={"email": "new@example.com", "password": PASSWORD})
    assert dup.status_code == 409
    await login(client, "new@example.com")
    assert [r.action for r in await _audit(sessions)] == ["admin.users.create"]


async def test_soft_delete_stops_strategies_and_access(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
    admin = await make_admin(client, sessions)
    headers = bearer(admin["access_token"])
    trader = await signup(client, "leaving@example.com")
    uid = trader["user"]["id"]
    sid = new_id("str")
    async with sessions() as session, session.begin():
        session.add(Strategy(id=sid, user_id=uid, name="s", exchange="NSE", symbol="INFY",
                             buy_time=time(9, 20), sell_time=time(15, 0),
                             stop_loss_type="PRICE", stop_loss_value=1400, quantity=1,
                             status="RUNNING", position="NONE"))
    store = RuntimeStore(redis)
    async with sessions() as session:
        row = await session.get(Strategy, sid)
        assert row is not None
        await store.put(from_row(row))
    response = await client.delete(f"/admin/users/{uid}", headers=headers)
    assert response.status_code == 204
    # The deleted user's strategy is disarmed in the pipeline's runtime state too.
    assert await store.get(uid, sid) is None
    assert await store.get_all_active_strategies() == []
    async with sessions() as session:
        strategy = await session.get(Strategy, sid)
    assert strategy is not None
    assert strategy.status == "STOPPED"
    assert (await client.get("/auth/me", headers=bearer(trader["access_token"]))).status_code \
        == 401
    relogin = await client.post("/auth/login", json={"email": "leaving@example.com",
                                                     "password": PASSWORD})
    assert relogin.status_code == 401
    assert (await client.get(f"/admin/users/{uid}", headers=headers)).status_code == 404
    listed = await (await client.get("/admin/users", headers=headers)).get_json()
    assert uid not in {u["id"] for u in listed["items"]}
    rows = await _audit(sessions)
    assert [r.action for r in rows] == ["admin.users.delete", "admin.users.list"]
    delete_row = rows[0]
    assert delete_row.details["stopped_strategies"] == [sid]


async def test_last_admin_cannot_be_removed(client: HttpClient,
                                            sessions: async_sessionmaker[AsyncSession]) -> None:
    admin = await make_admin(client, sessions)
    headers = bearer(admin["access_token"])
    me = admin["user"]["id"]
    for call in (client.put(f"/admin/users/{me}", headers=headers, json={"role": "user"}),
                 client.put(f"/admin/users/{me}", headers=headers, json={"is_active": False}),
                 client.delete(f"/admin/users/{me}", headers=headers)):
        response = await call
        assert response.status_code == 409
        assert (await response.get_json())["error_code"] == "AUTH_012"
    assert (await client.get("/auth/me", headers=headers)).status_code == 200
