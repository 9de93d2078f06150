"""SSE against the app served by Hypercorn, with httpx and real NATS (LIVE-1…LIVE-3)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from quart import Quart
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.clock import FakeClock, RealClock
from core.embedded.stack import Endpoints
from core.events import EventPublisher, EventType
from tests.conftest import make_settings
from tests.sse_kit import open_stream, serving
from tests.stubs import PASSWORD, eventually
from web.app import create_app
from web.resources import Resources

HEARTBEAT_S = 0.3
STRATEGY_BODY: dict[str, Any] = {
    "name": "Live", "symbol": "NSE:RELIANCE", "buy_time": "09:20:00", "sell_time": "15:10:00",
    "stop_loss": {"type": "PERCENT", "value": "1.5"}, "quantity": 1,
    "broker_credential_id": "paper",
}


def _resources(app: Quart) -> Resources:
    resources: Resources = app.extensions["algo.resources"]
    return resources


@pytest.fixture
async def served(endpoints: Endpoints, tmp_path: Path) -> AsyncIterator[tuple[Quart, str]]:
    """The app with a short heartbeat and a small per-client queue, on a real server."""
    app = create_app(make_settings(endpoints, tmp_path, sse_heartbeat_s=HEARTBEAT_S,
                                   sse_queue_size=64))
    async with serving(app) as url:
        yield app, url


@pytest.fixture
async def http(served: tuple[Quart, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client of the served app."""
    async with httpx.AsyncClient(base_url=served[1], timeout=10) as client:
        yield client


async def _user(http: httpx.AsyncClient, email: str) -> tuple[str, dict[str, str]]:
    response = await http.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    tokens = (await http.post("/auth/login", json={"email": email, "password": PASSWORD})).json()
    return tokens["user"]["id"], {"Authorization": f"Bearer {tokens['access_token']}"}


def _publisher(js: JetStreamContext) -> EventPublisher:
    return EventPublisher(js, RealClock())


async def _emit(events: EventPublisher, user_id: str, strategy_id: str | None = "str_a",
                event_type: EventType = EventType.STRATEGY_UPDATED, **data: Any) -> int:
    return await events.publish(events.build(event_type, user_id=user_id,
                                             strategy_id=strategy_id, data=data))


async def _consumers(js: JetStreamContext) -> int:
    return (await js.stream_info(subjects.EVENTS)).state.consumer_count


async def test_events_arrive_in_order_with_ids_and_only_the_callers(
        http: httpx.AsyncClient, js: JetStreamContext) -> None:
    alice, alice_auth = await _user(http, "alice@example.com")
    bob, _ = await _user(http, "bob@example.com")
    events = _publisher(js)
    async with open_stream(http, "/user/events/stream", headers=alice_auth) as reader:
        await eventually(lambda: reader.comments, message="stream opened")
        mine = []
        for i in range(20):
            mine.append(await _emit(events, alice, n=i))
            await _emit(events, bob, n=i)  # never reaches alice
        await eventually(lambda: len(reader.events) >= 20, message="20 events")
        await _emit(events, bob, n=99)
        last = await _emit(events, alice, n=20)
        await eventually(lambda: reader.ids[-1:] == [last], message="last event")
    assert reader.ids == [*mine, last]
    assert [e.data["data"]["n"] for e in reader.events] == list(range(21))
    assert {e.type for e in reader.events} == {"STRATEGY_UPDATED"}
    assert {e.data["user_id"] for e in reader.events} == {alice}


async def test_strategy_stream_sees_one_strategy_and_404s_for_others(
        http: httpx.AsyncClient, js: JetStreamContext) -> None:
    alice, alice_auth = await _user(http, "alice@example.com")
    _, bob_auth = await _user(http, "bob@example.com")
    created = await http.post("/strategies", headers=alice_auth, json=STRATEGY_BODY)
    strategy_id = created.json()["id"]
    assert (await http.get(f"/strategies/{strategy_id}/stream", headers=bob_auth)
            ).status_code == 404
    events = _publisher(js)
    async with open_stream(http, f"/strategies/{strategy_id}/stream",
                           headers=alice_auth) as reader:
        await eventually(lambda: reader.comments, message="stream opened")
        await _emit(events, alice, "str_other", n=1)
        wanted = await _emit(events, alice, strategy_id, EventType.ORDER_EXECUTED, n=2)
        await eventually(lambda: reader.ids == [wanted], message="the strategy's event")
    assert reader.events[0].type == "ORDER_EXECUTED"


async def test_resume_with_last_event_id_gets_exactly_the_missed_ones(
        http: httpx.AsyncClient, js: JetStreamContext) -> None:
    alice, auth = await _user(http, "alice@example.com")
    bob, _ = await _user(http, "bob@example.com")
    events = _publisher(js)
    seen = [await _emit(events, alice, n=i) for i in range(3)]
    missed = []
    for i in range(30):
        missed.append(await _emit(events, alice, n=100 + i))
        await _emit(events, bob, n=i)
    # Events keep coming while the client reconnects: the seam between replay and live must
    # neither drop nor repeat any of them.
    stop = asyncio.Event()
    during: list[int] = []

    async def keep_publishing() -> None:
        while not stop.is_set():
            during.append(await _emit(events, alice, n=-1))
            await asyncio.sleep(0.002)

    publisher = asyncio.create_task(keep_publishing())
    try:
        async with open_stream(http, "/user/events/stream",
                               headers={**auth, "Last-Event-ID": str(seen[-1])}) as reader:
            await eventually(lambda: len(reader.events) >= 40, message="replay and live")
            stop.set()
            await publisher
            await eventually(lambda: reader.ids[-1:] == during[-1:], message="caught up")
    finally:
        stop.set()
        await publisher
    assert reader.ids == missed + during
    assert await _consumers(js) == 1  # the replay consumer is gone; only the hub's is left


async def test_resume_after_the_newest_event_replays_nothing(
        http: httpx.AsyncClient, js: JetStreamContext) -> None:
    alice, auth = await _user(http, "alice@example.com")
    events = _publisher(js)
    last = await _emit(events, alice, n=1)
    async with open_stream(http, "/user/events/stream",
                           headers={**auth, "Last-Event-ID": str(last)}) as reader:
        await eventually(lambda: reader.comments, message="stream opened")
        nxt = await _emit(events, alice, n=2)
        await eventually(lambda: reader.ids == [nxt], message="only the new event")
    bad = await http.get("/user/events/stream", headers={**auth, "Last-Event-ID": "x"})
    assert (bad.status_code, bad.json()["error_code"]) == (422, "VAL_001")


async def test_admin_stream_sees_everyone_and_refuses_users(
        http: httpx.AsyncClient, js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    alice, alice_auth = await _user(http, "alice@example.com")
    bob, _ = await _user(http, "bob@example.com")
    refused = await http.get("/admin/events/stream", headers=alice_auth)
    assert (refused.status_code, refused.json()["error_code"]) == (403, "AUTH_002")
    await make_admin_http(http, sessions)
    admin = (await http.post("/auth/login", json={"email": "root@example.com",
                                                  "password": PASSWORD})).json()
    events = _publisher(js)
    async with open_stream(http, "/admin/events/stream",
                           headers={"Authorization": f"Bearer {admin['access_token']}"}
                           ) as reader:
        await eventually(lambda: reader.comments, message="stream opened")
        ids = [await _emit(events, alice, n=1), await _emit(events, bob, n=2),
               await _emit(events, "system", None, EventType.ERROR, kind="feed_stale")]
        await eventually(lambda: reader.ids == ids, message="every user's events")


async def make_admin_http(http: httpx.AsyncClient,
                          sessions: async_sessionmaker[AsyncSession]) -> None:
    """An admin account (in the database, as the CLI makes one)."""
    from core.db.enums import Role
    from core.repos import users
    from core.security.passwords import hash_password
    async with sessions() as session, session.begin():
        await users.create_user(session, email="root@example.com",
                                password_hash=hash_password(PASSWORD, 4), role=Role.ADMIN)


async def test_heartbeat_on_a_short_interval(http: httpx.AsyncClient) -> None:
    _, auth = await _user(http, "alice@example.com")
    async with open_stream(http, "/user/events/stream", headers=auth) as reader:
        started = time.monotonic()
        await eventually(lambda: reader.comments.count("heartbeat") >= 2, timeout=5,
                         message="two heartbeats")
        assert time.monotonic() - started < HEARTBEAT_S * 5


async def test_disconnect_frees_the_queue_and_the_replay_consumer(
        served: tuple[Quart, str], http: httpx.AsyncClient, js: JetStreamContext) -> None:
    hub = _resources(served[0]).hub
    alice, auth = await _user(http, "alice@example.com")
    events = _publisher(js)
    baseline = await _consumers(js)
    assert baseline == 1  # the hub's one ordered consumer, however many clients
    pad = "x" * 2000
    seqs = await asyncio.gather(*(_emit(events, alice, n=i, pad=pad) for i in range(4000)))
    await eventually(lambda: hub.last_seq == max(seqs), message="hub caught up")
    # A resuming client that does not read: its replay stalls on the full socket, with its
    # consumer open ...
    request = http.build_request("GET", "/user/events/stream",
                                 headers={**auth, "Last-Event-ID": "0"})
    response = await http.send(request, stream=True)
    assert response.status_code == 200
    await eventually(lambda: hub.listeners == 1, message="attached")
    await eventually(lambda: _more_than(js, baseline), message="replay consumer")
    # ... until it goes away: the queue and the replay consumer go with it.
    await response.aclose()
    await eventually(lambda: hub.listeners == 0, message="listener detached")
    await eventually(lambda: _exactly(js, baseline), message="replay consumer deleted")


async def _more_than(js: JetStreamContext, n: int) -> bool:
    return await _consumers(js) > n


async def _exactly(js: JetStreamContext, n: int) -> bool:
    return await _consumers(js) == n


async def test_a_stalled_client_is_cut_off_and_delays_nobody(
        endpoints: Endpoints, tmp_path: Path, js: JetStreamContext) -> None:
    app = create_app(make_settings(endpoints, tmp_path, sse_queue_size=500))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http, \
            httpx.AsyncClient(base_url=url, timeout=10) as other:
        hub = _resources(app).hub
        alice, auth = await _user(http, "alice@example.com")
        events = _publisher(js)
        stalled = await http.send(http.build_request("GET", "/user/events/stream",
                                                     headers=auth), stream=True)  # never read
        async with open_stream(other, "/user/events/stream", headers=auth) as fast:
            await eventually(lambda: hub.listeners == 2, message="both attached")
            pad = "y" * 4000
            started = time.monotonic()
            sent: list[int] = []
            for chunk in range(100):  # 16 MB: more than the stalled client's socket holds
                sent += await asyncio.gather(*(_emit(events, alice, n=chunk * 40 + i, pad=pad)
                                               for i in range(40)))
                want = len(sent)
                await eventually(lambda: len(fast.events) == want or fast.ended,  # noqa: B023
                                 timeout=10, message="the fast client keeps up")
            elapsed = time.monotonic() - started
            assert fast.ids == sorted(sent)
            assert (hub.dropped, hub.listeners) == (1, 1)  # the stalled one was cut off
            assert elapsed < 30
        await stalled.aclose()


async def test_ticket_is_single_use_and_expires(http: httpx.AsyncClient, js: JetStreamContext,
                                                redis: Redis) -> None:
    alice, auth = await _user(http, "alice@example.com")
    ticket = (await http.post("/auth/stream-ticket", headers=auth)).json()["ticket"]
    events = _publisher(js)
    async with open_stream(http, f"/user/events/stream?ticket={ticket}") as reader:
        await eventually(lambda: reader.comments, message="stream opened")
        seq = await _emit(events, alice, n=1)
        await eventually(lambda: reader.ids == [seq], message="event by ticket")
    again = await http.get(f"/user/events/stream?ticket={ticket}")
    assert (again.status_code, again.json()["error_code"]) == (401, "AUTH_011")
    expiring = (await http.post("/auth/stream-ticket", headers=auth)).json()["ticket"]
    keys = [k async for k in redis.scan_iter("stream_ticket:*")]
    assert len(keys) == 1 and 0 < await redis.ttl(keys[0]) <= 60
    await redis.pexpire(keys[0], 1)  # its lifetime runs out
    await eventually(lambda: _gone(redis, keys[0]), message="ticket expired")
    late = await http.get(f"/user/events/stream?ticket={expiring}")
    assert (late.status_code, late.json()["error_code"]) == (401, "AUTH_011")


async def _gone(redis: Redis, key: Any) -> bool:
    return not await redis.exists(key)


async def test_cookie_auth_and_logout_closes_the_stream(http: httpx.AsyncClient) -> None:
    response = await http.post("/auth/register", json={"email": "c@example.com",
                                                       "password": PASSWORD})
    assert response.status_code == 201
    tokens = (await http.post("/auth/login", json={"email": "c@example.com",
                                                   "password": PASSWORD})).json()
    cookie = {"Cookie": f"algo_access={tokens['access_token']}"}
    async with open_stream(http, "/user/events/stream", headers=cookie) as by_cookie:
        await eventually(lambda: by_cookie.comments, message="stream opened by cookie")
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await http.post("/auth/logout", headers=auth, json={})).status_code == 204
        await eventually(lambda: by_cookie.ended, timeout=HEARTBEAT_S * 10,
                         message="stream closed by logout")


async def test_an_expired_token_closes_the_stream(endpoints: Endpoints, tmp_path: Path,
                                                  clock: FakeClock) -> None:
    app = create_app(make_settings(endpoints, tmp_path, sse_heartbeat_s=HEARTBEAT_S),
                     clock=clock)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        _, auth = await _user(http, "alice@example.com")
        async with open_stream(http, "/user/events/stream", headers=auth) as reader:
            await eventually(lambda: reader.comments.count("heartbeat") >= 1,
                             message="heartbeat")
            assert not reader.ended
            await clock.advance(16 * 60)  # past the 15-minute access token
            await eventually(lambda: reader.ended, timeout=HEARTBEAT_S * 10,
                             message="stream closed at expiry")
