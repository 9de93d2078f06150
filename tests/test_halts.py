"""The kill switch (RUN-8) and the max daily loss: API, Redis copy, restore, realised P&L."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, time
from decimal import Decimal

import pytest
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys
from core.bootstrap import rebuild_runtime_state
from core.db.models import AuditLog, Halt, Order, Strategy
from core.db.models import User as UserRow
from core.embedded.process import pick_port
from core.embedded.stack import Endpoints
from core.halts import HaltStore, restore_halts
from core.ids import new_id
from core.redis import create_redis
from core.risk import enforce_daily_loss, realised_pnl
from tests.stubs import PASSWORD, bearer, login, make_admin, signup

DAY = date(2026, 11, 23)


async def _audit(sessions: async_sessionmaker[AsyncSession]) -> list[AuditLog]:
    async with sessions() as session:
        return list((await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars())


async def _halt_rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Halt]:
    async with sessions() as session:
        return {h.scope: h for h in (await session.execute(select(Halt))).scalars()}


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    """A client of a port nothing listens on."""
    client = create_redis(f"redis://127.0.0.1:{pick_port(0)}/0", timeout_s=0.5)
    yield client
    await client.aclose()


# The API

async def test_engage_list_release_audited(client: HttpClient, redis: Redis,
                                           sessions: async_sessionmaker[AsyncSession]) -> None:
    admin = await make_admin(client, sessions)
    headers = bearer(admin["access_token"])
    trader = await signup(client, "t@example.com")
    uid = trader["user"]["id"]

    engaged = await client.post("/admin/system/halt", headers=headers,
                                json={"scope": "global", "reason": " exchange glitch "})
    assert engaged.status_code == 201
    body = await engaged.get_json()
    assert body["scope"] == "global"
    assert body["reason"] == "exchange glitch"
    assert body["set_by"] == admin["user"]["id"]
    assert await redis.get(redis_keys.HALT_GLOBAL) == "exchange glitch"
    user_halt = await client.post("/admin/system/halt", headers=headers,
                                  json={"scope": uid, "reason": "margin call"})
    assert user_halt.status_code == 201
    assert await redis.get(redis_keys.halt_user(uid)) == "margin call"

    listed = await (await client.get("/admin/system/halt", headers=headers)).get_json()
    assert [(h["scope"], h["reason"]) for h in listed["items"]] == [
        ("global", "exchange glitch"), (uid, "margin call")]

    released = await client.delete("/admin/system/halt/global", headers=headers)
    assert released.status_code == 204
    assert await redis.get(redis_keys.HALT_GLOBAL) is None
    assert set(await _halt_rows(sessions)) == {uid}
    again = await client.delete("/admin/system/halt/global", headers=headers)
    assert again.status_code == 404
    assert (await again.get_json())["error_code"] == "SYS_002"

    rows = await _audit(sessions)
    assert [(r.action, r.target_id) for r in rows] == [
        ("halt.engage", "global"), ("halt.engage", uid), ("halt.release", "global")]
    assert all(r.actor_id == admin["user"]["id"] and r.actor_role == "admin" for r in rows)
    assert rows[0].details == {"reason": "exchange glitch", "previous": None}
    assert rows[2].details == {"reason": "exchange glitch"}
    assert rows[0].trace_id


async def test_reengage_replaces_the_reason(client: HttpClient, redis: Redis,
                                            sessions: async_sessionmaker[AsyncSession]) -> None:
    headers = bearer((await make_admin(client, sessions))["access_token"])
    for reason in ("first", "second"):
        response = await client.post("/admin/system/halt", headers=headers,
                                     json={"scope": "global", "reason": reason})
        assert response.status_code == 201
    assert await redis.get(redis_keys.HALT_GLOBAL) == "second"
    assert (await _halt_rows(sessions))["global"].reason == "second"
    assert (await _audit(sessions))[-1].details == {"reason": "second", "previous": "first"}


async def test_bad_scope_and_unknown_user(client: HttpClient, redis: Redis,
                                          sessions: async_sessionmaker[AsyncSession]) -> None:
    headers = bearer((await make_admin(client, sessions))["access_token"])
    unknown = await client.post("/admin/system/halt", headers=headers,
                                json={"scope": new_id("usr"), "reason": "x"})
    assert unknown.status_code == 404
    assert (await unknown.get_json())["error_code"] == "SYS_002"
    for body in ({"scope": "everyone", "reason": "x"}, {"scope": "global", "reason": "  "},
                 {"scope": "global", "reason": "x" * 257}, {"scope": "global"}):
        bad = await client.post("/admin/system/halt", headers=headers, json=body)
        assert bad.status_code == 422, body
        assert (await bad.get_json())["error_code"] == "VAL_001"
    assert await _halt_rows(sessions) == {}
    assert await redis.keys("halt:*") == []
    assert await _audit(sessions) == []


async def test_non_admins_get_403(client: HttpClient,
                                  sessions: async_sessionmaker[AsyncSession]) -> None:
    trader = await signup(client, "trader@example.com")
    admin = await make_admin(client, sessions)
    await client.post("/admin/users", headers=bearer(admin["access_token"]),
                      json={"email": "ops@example.com", "password": PASSWORD, "role": "broker"})
    ops = await login(client, "ops@example.com")
    for tokens in (trader, ops):
        for method, path in (("GET", "/admin/system/halt"), ("POST", "/admin/system/halt"),
                             ("DELETE", "/admin/system/halt/global")):
            response = await client.open(path, method=method,
                                         headers=bearer(tokens["access_token"]),
                                         json={"scope": "global", "reason": "x"})
            assert response.status_code == 403, (method, path)
            assert (await response.get_json())["error_code"] == "AUTH_002"
    assert (await client.get("/admin/system/halt")).status_code == 401
    assert await _halt_rows(sessions) == {}


# The store

async def _user(sessions: async_sessionmaker[AsyncSession], email: str,
                max_daily_loss: Decimal | None = None) -> str:
    uid = new_id("usr")
    async with sessions() as session, session.begin():
        session.add(UserRow(id=uid, email=email, password_hash="x", role="user",
                            max_daily_loss=max_daily_loss))
    return uid


async def test_reason_sees_global_first_then_user(
        redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> None:
    store = HaltStore(sessions, redis)
    alice = await _user(sessions, "alice@example.com")
    bob = await _user(sessions, "bob@example.com")
    assert await store.reason(alice) is None
    await store.engage(alice, "alice halted", set_by=None)
    assert await store.reason(alice) == "alice halted"
    assert await store.reason(bob) is None
    await store.engage("global", "all halted", set_by=None)
    assert await store.reason(alice) == "all halted"
    assert await store.reason(bob) == "all halted"
    assert await store.release("global")
    assert await store.reason(alice) == "alice halted"
    assert await store.reason(bob) is None
    assert not await store.release(bob)
    assert [h.scope for h in await store.active()] == [alice]


async def test_reason_raises_when_redis_cannot_answer(
        dead_redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(RedisError):
        await HaltStore(sessions, dead_redis).reason(new_id("usr"))


async def test_engage_without_redis_records_nothing(
        dead_redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(RedisError):
        await HaltStore(sessions, dead_redis).engage("global", "x", set_by=None)
    assert await _halt_rows(sessions) == {}


async def test_release_clears_a_redis_only_halt(
        redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> None:
    # A halt left in Redis by a failed commit must still be releasable.
    await redis.set(redis_keys.HALT_GLOBAL, "stray")
    assert await HaltStore(sessions, redis).release("global")
    assert await redis.get(redis_keys.HALT_GLOBAL) is None


async def test_restore_after_flushdb(redis: Redis, endpoints: Endpoints,
                                     sessions: async_sessionmaker[AsyncSession]) -> None:
    store = HaltStore(sessions, redis)
    uid = await _user(sessions, "u@example.com")
    await store.engage("global", "all", set_by=None)
    await store.engage(uid, "one", set_by=None)
    await redis.flushdb()
    # A Redis that lost its data never reads as "no halt": they come back from PostgreSQL.
    assert await store.reason(uid) == "all"
    assert await redis.get(redis_keys.halt_user(uid)) == "one"
    stray = redis_keys.halt_user(new_id("usr"))
    await redis.set(stray, "not in PostgreSQL")

    async with sessions() as session, session.begin():
        assert await restore_halts(session, redis) == 2
    assert await redis.get(redis_keys.HALT_GLOBAL) == "all"
    assert await redis.get(redis_keys.halt_user(uid)) == "one"
    assert await redis.get(stray) is None

    # `algo up` / `algo runtime rebuild` restore them too.
    await redis.flushdb()
    await rebuild_runtime_state(endpoints.database_url, endpoints.redis_url)
    assert await store.reason(uid) == "all"
    assert await redis.get(redis_keys.halt_user(uid)) == "one"


# Realised P&L and the max daily loss

async def _strategy(sessions: async_sessionmaker[AsyncSession], uid: str) -> str:
    sid = new_id("str")
    async with sessions() as session, session.begin():
        session.add(Strategy(id=sid, user_id=uid, name="s", exchange="NSE", symbol="INFY",
                             buy_time=time(9, 20), sell_time=time(15, 0),
                             stop_loss_type="PRICE", stop_loss_value=1, quantity=10,
                             status="RUNNING", position="NONE"))
    return sid


async def _fill(sessions: async_sessionmaker[AsyncSession], uid: str, sid: str, action: str,
                price: str, qty: int, *, status: str = "FILLED", simulated: bool = False,
                day: date = DAY) -> None:
    oid = new_id("ord")
    async with sessions() as session, session.begin():
        session.add(Order(id=oid, user_id=uid, strategy_id=sid, trading_day=day,
                          action=action, side="BUY" if action == "BUY" else "SELL",
                          exchange="NSE", symbol="INFY", quantity=qty, broker_type="paper",
                          is_simulated=simulated, client_tag=oid[-20:], status=status,
                          average_price=Decimal(price), filled_quantity=qty))


async def _pnl(sessions: async_sessionmaker[AsyncSession], uid: str) -> Decimal:
    async with sessions() as session:
        return await realised_pnl(session, uid, DAY)


async def test_realised_pnl_by_hand(sessions: async_sessionmaker[AsyncSession]) -> None:
    uid = await _user(sessions, "p@example.com")
    other = await _user(sessions, "o@example.com")
    assert await _pnl(sessions, uid) == Decimal("0.00")
    # Strategy A: 10 @ 1500.50 -> SL 10 @ 1480.25: -202.50
    a = await _strategy(sessions, uid)
    await _fill(sessions, uid, a, "BUY", "1500.50", 10)
    assert await _pnl(sessions, uid) == Decimal("0.00")  # open positions do not count
    await _fill(sessions, uid, a, "SL_EXIT", "1480.25", 10)
    assert await _pnl(sessions, uid) == Decimal("-202.50")
    # Strategy B: 3 @ 100.10 -> target 3 @ 110.00: +29.70
    b = await _strategy(sessions, uid)
    await _fill(sessions, uid, b, "BUY", "100.10", 3)
    await _fill(sessions, uid, b, "TARGET_EXIT", "110.00", 3)
    # Strategy G: 10 @ 100 -> 4 @ 97.50 closed so far: -10.00 (the open 6 do not count)
    g = await _strategy(sessions, uid)
    await _fill(sessions, uid, g, "BUY", "100", 10)
    await _fill(sessions, uid, g, "SELL", "97.50", 4)
    # Ignored: a simulated round trip, a rejected exit, another day, another user.
    c = await _strategy(sessions, uid)
    await _fill(sessions, uid, c, "BUY", "100", 5, simulated=True)
    await _fill(sessions, uid, c, "SELL", "1", 5, simulated=True)
    d = await _strategy(sessions, uid)
    await _fill(sessions, uid, d, "BUY", "100", 5)
    await _fill(sessions, uid, d, "SELL", "1", 5, status="REJECTED")
    e = await _strategy(sessions, uid)
    await _fill(sessions, uid, e, "BUY", "100", 5, day=date(2026, 11, 20))
    await _fill(sessions, uid, e, "SQUARE_OFF", "1", 5, day=date(2026, 11, 20))
    f = await _strategy(sessions, other)
    await _fill(sessions, other, f, "BUY", "100", 5)
    await _fill(sessions, other, f, "SELL", "1", 5)
    assert await _pnl(sessions, uid) == Decimal("-182.80")
    assert await _pnl(sessions, other) == Decimal("-495.00")


async def _enforce(sessions: async_sessionmaker[AsyncSession], store: HaltStore,
                   uid: str) -> bool:
    async with sessions() as session:
        return await enforce_daily_loss(session, store, uid, DAY)


async def test_loss_beyond_limit_halts_the_user(
        redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> None:
    store = HaltStore(sessions, redis)
    uid = await _user(sessions, "l@example.com", max_daily_loss=Decimal("200"))
    sid = await _strategy(sessions, uid)
    await _fill(sessions, uid, sid, "BUY", "1500.50", 10)
    await _fill(sessions, uid, sid, "SELL", "1480.50", 10)  # -200.00: exactly the limit
    assert await _enforce(sessions, store, uid)
    reason = await store.reason(uid)
    assert reason == "max daily loss ₹200.00 reached: realised -₹200.00 on 2026-11-23"
    halt = (await _halt_rows(sessions))[uid]
    assert halt.set_by is None
    audit_rows = await _audit(sessions)
    assert [(r.action, r.actor_id, r.actor_role) for r in audit_rows] == [
        ("halt.engage", None, "system")]
    # Tripped once: a second exit fill finds the halt engaged and keeps its reason.
    assert not await _enforce(sessions, store, uid)
    assert len(await _audit(sessions)) == 1


async def test_profit_small_loss_no_limit_or_simulated_do_not_halt(
        redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> None:
    store = HaltStore(sessions, redis)
    winner = await _user(sessions, "w@example.com", max_daily_loss=Decimal("100"))
    sid = await _strategy(sessions, winner)
    await _fill(sessions, winner, sid, "BUY", "100", 10)
    await _fill(sessions, winner, sid, "SELL", "150", 10)
    small = await _user(sessions, "s@example.com", max_daily_loss=Decimal("100"))
    sid = await _strategy(sessions, small)
    await _fill(sessions, small, sid, "BUY", "100", 10)
    await _fill(sessions, small, sid, "SELL", "90.01", 10)  # -99.90
    unlimited = await _user(sessions, "n@example.com")
    sid = await _strategy(sessions, unlimited)
    await _fill(sessions, unlimited, sid, "BUY", "100", 10)
    await _fill(sessions, unlimited, sid, "SELL", "1", 10)
    paper = await _user(sessions, "sim@example.com", max_daily_loss=Decimal("0"))
    sid = await _strategy(sessions, paper)
    await _fill(sessions, paper, sid, "BUY", "100", 10, simulated=True)
    await _fill(sessions, paper, sid, "SELL", "1", 10, simulated=True)
    for uid in (winner, small, unlimited, paper):
        assert not await _enforce(sessions, store, uid), uid
        assert await store.reason(uid) is None
    assert await _halt_rows(sessions) == {}


async def test_admin_sets_and_clears_max_daily_loss(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    admin = await make_admin(client, sessions)
    headers = bearer(admin["access_token"])
    uid = (await signup(client, "risk@example.com"))["user"]["id"]
    detail = await (await client.get(f"/admin/users/{uid}", headers=headers)).get_json()
    assert detail["max_daily_loss"] is None

    updated = await client.put(f"/admin/users/{uid}", headers=headers,
                               json={"max_daily_loss": "2500.5"})
    assert updated.status_code == 200
    assert Decimal((await updated.get_json())["max_daily_loss"]) == Decimal("2500.50")
    detail = await (await client.get(f"/admin/users/{uid}", headers=headers)).get_json()
    assert Decimal(detail["max_daily_loss"]) == Decimal("2500.50")
    # Changing something else leaves the limit alone.
    await client.put(f"/admin/users/{uid}", headers=headers, json={"is_active": True})
    detail = await (await client.get(f"/admin/users/{uid}", headers=headers)).get_json()
    assert Decimal(detail["max_daily_loss"]) == Decimal("2500.50")
    for bad in ({"max_daily_loss": "-1"}, {"max_daily_loss": "1.005"}, {}):
        response = await client.put(f"/admin/users/{uid}", headers=headers, json=bad)
        assert response.status_code == 422, bad

    cleared = await client.put(f"/admin/users/{uid}", headers=headers,
                               json={"max_daily_loss": None})
    assert (await cleared.get_json())["max_daily_loss"] is None
    updates = [r for r in await _audit(sessions) if r.action == "admin.users.update"]
    assert updates[0].details["before"]["max_daily_loss"] is None
    assert updates[0].details["after"]["max_daily_loss"] == "2500.50"
    assert "max_daily_loss" not in updates[1].details["after"]
    assert updates[-1].details["before"]["max_daily_loss"] == "2500.50"
    assert updates[-1].details["after"]["max_daily_loss"] is None
