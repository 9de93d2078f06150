"""Analytics against real PostgreSQL, Redis and NATS: hand-computed figures, the rollup
(re-runs give the same rows, rolled-up and live days agree), tenant and real/simulated
isolation, cache invalidation on a new fill, and the admin endpoints' role checks."""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from nats.js import JetStreamContext
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import redis_keys
from core.analytics.admin import PlatformAnalytics
from core.analytics.cache import AnalyticsCache
from core.analytics.figures import Period
from core.analytics.rollup import catch_up, roll_up_day
from core.analytics.service import UserAnalytics
from core.clock import IST, FakeClock
from core.db.enums import Role
from core.db.models import Order, Strategy, User
from core.errors import ValidationFailed
from core.events import EventPublisher, EventType
from core.ids import new_id
from core.repos import analytics_rollup as repo
from core.repos import users
from core.repos.analytics_queries import watermark
from core.security.passwords import hash_password
from pipeline.follower import EventFollower
from pipeline.notifier.analytics import FILLS, AnalyticsUpkeep
from tests.stubs import PASSWORD, bearer, eventually, login, make_admin, signup

D1, D2, D3 = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 26)  # Mon, Tue, Thu
TODAY = D3


@pytest.fixture
def clock() -> FakeClock:
    """Thursday 26 Nov 2026, 10:00 IST."""
    return FakeClock(datetime(2026, 11, 26, 10, 0, tzinfo=IST))


async def _user(sessions: async_sessionmaker[AsyncSession], email: str,
                created: datetime | None = None) -> str:
    uid = new_id("usr")
    async with sessions() as session, session.begin():
        session.add(User(id=uid, email=email, password_hash="x", role="user",
                         created_at=created or datetime(2026, 11, 1, tzinfo=IST)))
    return uid


async def _strategy(sessions: async_sessionmaker[AsyncSession], uid: str, name: str,
                    simulated: bool = False) -> str:
    sid = new_id("str")
    async with sessions() as session, session.begin():
        session.add(Strategy(id=sid, user_id=uid, name=name, exchange="NSE", symbol="INFY",
                             buy_time=time(9, 20), sell_time=time(15, 0),
                             stop_loss_type="PRICE", stop_loss_value=1, quantity=10,
                             status="RUNNING", position="NONE", is_simulated=simulated))
    return sid


async def _order(sessions: async_sessionmaker[AsyncSession], uid: str, sid: str, day: date,
                 action: str, price: str | None, qty: int, *, status: str = "FILLED",
                 simulated: bool = False, broker: str = "paper") -> None:
    oid = new_id("ord")
    filled = status == "FILLED"
    async with sessions() as session, session.begin():
        session.add(Order(id=oid, user_id=uid, strategy_id=sid, trading_day=day,
                          action=action, side="BUY" if action == "BUY" else "SELL",
                          exchange="NSE", symbol="INFY", quantity=qty, broker_type=broker,
                          is_simulated=simulated, client_tag=oid[-20:], status=status,
                          average_price=Decimal(price) if filled and price else None,
                          filled_quantity=qty if filled else 0))


async def _book(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Two users' orders over three days (figures worked out in the tests)."""
    a = await _user(sessions, "a@example.com")
    b = await _user(sessions, "b@example.com")
    s1, s2 = await _strategy(sessions, a, "one"), await _strategy(sessions, a, "two")
    s3 = await _strategy(sessions, a, "sim", simulated=True)
    sb = await _strategy(sessions, b, "theirs")
    # D1: s1 10 @ 100 -> 110: +100.00; s2 5 @ 200 -> SL 190: -50.00
    await _order(sessions, a, s1, D1, "BUY", "100", 10)
    await _order(sessions, a, s1, D1, "SELL", "110", 10)
    await _order(sessions, a, s2, D1, "BUY", "200", 5)
    await _order(sessions, a, s2, D1, "SL_EXIT", "190", 5)
    # D2: s1 bought, its exit rejected (no trade); s2's BUY skipped (not tried, not counted)
    await _order(sessions, a, s1, D2, "BUY", "100", 10)
    await _order(sessions, a, s1, D2, "SELL", None, 10, status="REJECTED")
    await _order(sessions, a, s2, D2, "BUY", None, 5, status="SKIPPED")
    # D3 (today, live): s1 4 @ 50 -> 52.50: +10.00
    await _order(sessions, a, s1, D3, "BUY", "50", 4)
    await _order(sessions, a, s1, D3, "SELL", "52.50", 4)
    # Simulated: +900.00, never in the real figures
    await _order(sessions, a, s3, D1, "BUY", "100", 1, simulated=True)
    await _order(sessions, a, s3, D1, "SELL", "1000", 1, simulated=True)
    # Another user: -500.00 at another broker
    await _order(sessions, b, sb, D1, "BUY", "100", 10, broker="zerodha")
    await _order(sessions, b, sb, D1, "SELL", "50", 10, broker="zerodha")
    return {"a": a, "b": b, "s1": s1, "s2": s2, "s3": s3, "sb": sb}


def _analytics(sessions: async_sessionmaker[AsyncSession], redis: Redis,
               clock: FakeClock) -> UserAnalytics:
    return UserAnalytics(sessions, AnalyticsCache(redis, clock, 300), clock)


async def test_user_figures_by_hand(sessions: async_sessionmaker[AsyncSession], redis: Redis,
                                    clock: FakeClock) -> None:
    ids = await _book(sessions)
    svc = _analytics(sessions, redis, clock)
    s = await svc.summary(ids["a"], simulated=False)
    assert (s.realized_pnl, s.orders_total, s.orders_filled, s.orders_rejected) == (
        Decimal("60.00"), 8, 7, 1)
    assert (s.success_rate, s.trades, s.wins, s.losses, s.win_rate) == (
        Decimal("0.8750"), 3, 2, 1, Decimal("0.6667"))
    assert (s.trading_days, s.first_day, s.last_day) == (3, D1, D3)
    sim = await svc.summary(ids["a"], simulated=True)
    assert (sim.simulated, sim.realized_pnl, sim.orders_total, sim.wins) == (
        True, Decimal("900.00"), 2, 1)
    theirs = await svc.summary(ids["b"], simulated=False)
    assert (theirs.realized_pnl, theirs.orders_total, theirs.losses) == (
        Decimal("-500.00"), 2, 1)

    daily = await svc.performance(ids["a"], simulated=False, period=Period.DAILY, start=D1,
                                  end=D3)
    assert [(b.start, b.realized_pnl, b.orders_total, b.trades) for b in daily.buckets] == [
        (D1, Decimal("50.00"), 4, 2), (D2, Decimal("0.00"), 2, 0),
        (date(2026, 11, 25), Decimal("0.00"), 0, 0), (D3, Decimal("10.00"), 2, 1)]
    weekly = await svc.performance(ids["a"], simulated=False, period=Period.WEEKLY, start=D1,
                                   end=D3)
    assert [(b.start, b.end, b.realized_pnl) for b in weekly.buckets] == [
        (D1, D3, Decimal("60.00"))]
    monthly = await svc.performance(ids["a"], simulated=False, period=Period.MONTHLY)
    assert len(monthly.buckets) == 12 and monthly.buckets[-1].realized_pnl == Decimal("60.00")

    per = await svc.strategies(ids["a"], simulated=False)
    assert [(i.strategy_id, i.realized_pnl, i.orders_total, i.orders_filled, i.trades, i.wins,
             i.losses) for i in per.items] == [
        (ids["s1"], Decimal("110.00"), 6, 5, 2, 2, 0),
        (ids["s2"], Decimal("-50.00"), 2, 2, 1, 0, 1)]
    assert [i.strategy_id for i in (await svc.strategies(ids["a"], simulated=True)).items] == [
        ids["s3"]]
    assert [i.strategy_id for i in (await svc.strategies(ids["b"], simulated=False)).items] == [
        ids["sb"]]


def _rows(rows: Any) -> list[tuple[Any, ...]]:
    return [(r.user_id, r.day, r.is_simulated, r.orders_total, r.orders_filled,
             r.orders_rejected, r.trades, r.wins, r.losses, r.gross_pnl, r.net_pnl)
            for r in rows]


async def test_rollup_is_idempotent_and_agrees_with_live(
        sessions: async_sessionmaker[AsyncSession], redis: Redis, clock: FakeClock) -> None:
    ids = await _book(sessions)
    live = await _analytics(sessions, redis, clock).summary(ids["a"], simulated=False)
    assert await catch_up(sessions, clock) == {D1: 3, D2: 1, date(2026, 11, 25): 0}
    async with sessions() as session:
        first = {d: _rows(await repo.rolled_rows(session, d)) for d in (D1, D2)}
        assert await watermark(session) == date(2026, 11, 25)
    a, b = ids["a"], ids["b"]
    assert sorted(first[D1]) == sorted([
        (a, D1, False, 4, 4, 0, 2, 1, 1, Decimal("50.00"), Decimal("50.00")),
        (a, D1, True, 2, 2, 0, 1, 1, 0, Decimal("900.00"), Decimal("900.00")),
        (b, D1, False, 2, 2, 0, 1, 0, 1, Decimal("-500.00"), Decimal("-500.00"))])
    assert first[D2] == [(a, D2, False, 2, 1, 1, 0, 0, 0, Decimal("0.00"), Decimal("0.00"))]
    # Re-runs (one day, then a catch-up re-rolling three days) give the very same rows.
    assert await roll_up_day(sessions, clock, D1) == 3
    assert await catch_up(sessions, clock, lookback_days=3) == {
        D1: 3, D2: 1, date(2026, 11, 25): 0}
    async with sessions() as session:
        assert {d: _rows(await repo.rolled_rows(session, d)) for d in (D1, D2)} == first
    # Rolled-up days and live ones give the same answer (fresh cache: another clock second).
    await redis.flushdb()
    assert await _analytics(sessions, redis, clock).summary(a, simulated=False) == live
    # Only finished days, and in order.
    with pytest.raises(ValidationFailed):
        await roll_up_day(sessions, clock, D3)
    clock2 = FakeClock(datetime(2026, 11, 30, 10, 0, tzinfo=IST))
    with pytest.raises(ValidationFailed):
        await roll_up_day(sessions, clock2, date(2026, 11, 28))


async def test_platform_figures_by_hand(sessions: async_sessionmaker[AsyncSession],
                                        redis: Redis, clock: FakeClock) -> None:
    await _book(sessions)
    await _user(sessions, "new@example.com", created=datetime(2026, 11, 24, 9, tzinfo=IST))
    admin = PlatformAnalytics(sessions, AnalyticsCache(redis, clock, 300), clock)
    await catch_up(sessions, clock)  # D1, D2 from the daily tables, D3 live
    p = await admin.platform(simulated=False)
    assert (p.users_total, p.realized_pnl, p.orders_total, p.orders_filled, p.trades) == (
        3, Decimal("-440.00"), 10, 9, 4)
    assert (p.traders_today, p.orders_today, p.realized_pnl_today) == (1, 2, Decimal("10.00"))
    assert (p.strategies_total, p.strategies_running) == (3, 3)
    sim = await admin.platform(simulated=True)
    assert (sim.realized_pnl, sim.orders_total, sim.strategies_total) == (
        Decimal("900.00"), 2, 1)

    o = await admin.orders(simulated=False, period=Period.WEEKLY, start=D1, end=D3)
    assert (o.orders_total, o.orders_filled, o.success_rate) == (10, 9, Decimal("0.9000"))
    assert [(b.broker, b.orders_total, b.share, b.turnover) for b in o.brokers] == [
        ("paper", 8, Decimal("0.8000"), Decimal("5460.00")),
        ("zerodha", 2, Decimal("0.2000"), Decimal("1500.00"))]

    u = await admin.users(simulated=False, period=Period.DAILY, start=D1, end=D3)
    assert [(b.start, b.new_users, b.users_total, b.active_users, b.churned_users)
            for b in u.buckets] == [
        (D1, 0, 2, 2, 0), (D2, 1, 3, 1, 1), (date(2026, 11, 25), 0, 3, 0, 1),
        (D3, 0, 3, 1, 0)]
    assert u.buckets[1].churn_rate == Decimal("0.5000")


async def test_a_new_fill_drops_the_users_cache(
        sessions: async_sessionmaker[AsyncSession], redis: Redis, js: JetStreamContext,
        clock: FakeClock) -> None:
    ids = await _book(sessions)
    a, b = ids["a"], ids["b"]
    cache = AnalyticsCache(redis, clock, 300)
    svc = UserAnalytics(sessions, cache, clock)
    upkeep = AnalyticsUpkeep(EventFollower(js, logging.getLogger("test"), FILLS), sessions,
                             cache, clock, logging.getLogger("test"), rollup_at=time(0, 30),
                             lookback_days=0)
    await upkeep.start()
    try:
        await eventually(lambda: upkeep.rolled_days == 3, message="start-up catch-up")
        assert (await svc.summary(a, simulated=False)).realized_pnl == Decimal("60.00")
        assert (await svc.summary(b, simulated=False)).realized_pnl == Decimal("-500.00")
        # A fill lands today: the cached answer stands until its event arrives ...
        s2 = ids["s2"]
        await _order(sessions, a, s2, D3, "BUY", "10", 1)
        await _order(sessions, a, s2, D3, "SELL", "15", 1)
        assert (await svc.summary(a, simulated=False)).realized_pnl == Decimal("60.00")
        events = EventPublisher(js, clock)
        await events.publish(events.build(EventType.ORDER_EXECUTED, user_id=a, strategy_id=s2,
                                          data={"trading_day": D3.isoformat()}))

        async def a_sees_it() -> bool:
            return (await svc.summary(a, simulated=False)).realized_pnl == Decimal("65.00")

        await eventually(a_sees_it, message="fresh figures after the fill")
        # ... and only that user's answers were dropped.
        assert await redis.hexists(redis_keys.analytics_user(b), "summary:0")
        # A late fill for a rolled-up day rolls that day up again.
        await _order(sessions, a, ids["s1"], D2, "SQUARE_OFF", "120", 10)
        await events.publish(events.build(EventType.ORDER_EXECUTED, user_id=a,
                                          strategy_id=ids["s1"],
                                          data={"trading_day": D2.isoformat()}))

        async def rerolled() -> bool:
            return (await svc.summary(a, simulated=False)).realized_pnl == Decimal("265.00")

        await eventually(rerolled, message="the late day rolled up again")
    finally:
        await upkeep.stop()
    # Expiry: five minutes later the answer is computed again.
    await _order(sessions, b, ids["sb"], D3, "BUY", "1", 1)
    assert (await svc.summary(b, simulated=False)).orders_total == 2
    await clock.advance(301)
    assert (await svc.summary(b, simulated=False)).orders_total == 3


async def test_api_roles_and_tenancy(client: HttpClient,
                                     sessions: async_sessionmaker[AsyncSession]) -> None:
    trader = await signup(client, "t@example.com")
    other = await signup(client, "o@example.com")
    uid, other_uid = trader["user"]["id"], other["user"]["id"]
    day = date(2026, 11, 20)
    mine, theirs = await _strategy(sessions, uid, "mine"), await _strategy(sessions, other_uid,
                                                                          "theirs")
    await _order(sessions, uid, mine, day, "BUY", "100", 2)
    await _order(sessions, uid, mine, day, "SELL", "101", 2)
    await _order(sessions, other_uid, theirs, day, "BUY", "100", 7)
    await _order(sessions, other_uid, theirs, day, "SELL", "90", 7)
    headers = bearer(trader["access_token"])

    r = await client.get("/analytics/user/summary", headers=headers)
    assert r.status_code == 200, await r.get_data()
    body = await r.get_json()
    assert (body["realized_pnl"], body["orders_total"], body["simulated"]) == ("2.00", 2, False)
    r = await client.get("/analytics/user/strategies", headers=headers)
    assert [i["strategy_id"] for i in (await r.get_json())["items"]] == [mine]
    r = await client.get("/analytics/user/performance?period=weekly&start=2026-11-16"
                         "&end=2026-11-22", headers=headers)
    assert [(b["start"], b["realized_pnl"]) for b in (await r.get_json())["buckets"]] == [
        ("2026-11-16", "2.00")]
    r = await client.get("/analytics/user/summary?simulated=true", headers=headers)
    assert (await r.get_json())["orders_total"] == 0
    r = await client.get("/analytics/user/performance?period=hourly", headers=headers)
    assert r.status_code == 422
    r = await client.get("/analytics/user/performance?start=2026-11-22&end=2026-11-16",
                         headers=headers)
    assert r.status_code == 422, await r.get_data()

    async with sessions() as session, session.begin():
        await users.create_user(session, email="ops@example.com",
                                password_hash=hash_password(PASSWORD, 4), role=Role.BROKER)
    ops = await login(client, "ops@example.com")
    admin = await make_admin(client, sessions)
    for path in ("/admin/analytics/platform", "/admin/analytics/users",
                 "/admin/analytics/orders"):
        assert (await client.get(path, headers=headers)).status_code == 403
        assert (await client.get(path, headers=bearer(ops["access_token"]))).status_code == 403
        assert (await client.get(path)).status_code == 401
        r = await client.get(path, headers=bearer(admin["access_token"]))
        assert r.status_code == 200, await r.get_data()
    assert (await client.get("/analytics/user/summary",
                             headers=bearer(ops["access_token"]))).status_code == 403
    r = await client.get("/admin/analytics/platform", headers=bearer(admin["access_token"]))
    assert (await r.get_json())["realized_pnl"] == "-68.00"
