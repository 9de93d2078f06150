"""The console's API client against the web app on a real server: token refresh before
expiry and on 401 (one rotation however many callers), and the admin event stream resumed
with Last-Event-ID after the server ends it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from console.api import AdminApi
from console.errors import ApiError, EndpointMissing, LoginRequired
from console.feed import EventFeed
from console.sse import ServerEvent, SseParser
from core.clock import FakeClock, RealClock
from core.embedded.stack import Endpoints
from core.events import EventPublisher, EventType
from tests.conftest import make_settings
from tests.console_kit import ADMIN_EMAIL, create_admin
from tests.sse_kit import serving
from tests.stubs import PASSWORD, eventually
from web.app import create_app

ACCESS_TTL_S = 900


@pytest.fixture
async def url(endpoints: Endpoints, tmp_path: Path, clock: FakeClock,
              sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    """The web app on a real server, on a clock the test moves, with an admin account."""
    await create_admin(sessions)
    app = create_app(make_settings(endpoints, tmp_path, sse_heartbeat_s=0.3,
                                   access_token_ttl_s=ACCESS_TTL_S), clock=clock)
    async with serving(app) as base_url:
        yield base_url


@pytest.fixture
async def api(url: str) -> AsyncIterator[AdminApi]:
    """A client on the served app, logged in as the admin."""
    client = AdminApi(url)
    await client.login(ADMIN_EMAIL, PASSWORD)
    yield client
    await client.aclose()


def test_sse_parser_reads_ids_types_comments_and_retry() -> None:
    parser = SseParser()
    lines = ["retry: 3000", ": connected", "", "id: 7", "event: ERROR",
             'data: {"data": {"message": "x"}}', "", ": heartbeat", ""]
    events = [e for e in map(parser.feed, lines) if e is not None]
    assert events == [ServerEvent(7, "ERROR", {"data": {"message": "x"}})]
    assert events[0].payload == {"message": "x"}
    assert parser.retry_ms == 3000


async def test_access_token_is_refreshed_shortly_before_it_expires(url: str) -> None:
    now = [0.0]
    client = AdminApi(url, clock=lambda: now[0])
    try:
        await client.login(ADMIN_EMAIL, PASSWORD)
        first = await client.access_token()
        await client.users()
        assert client.refreshes == 0
        now[0] = ACCESS_TTL_S - 30.0  # within the last minute of the token's life
        await client.users()
        assert client.refreshes == 1
        assert await client.access_token() != first
        await client.users()
        assert client.refreshes == 1
    finally:
        await client.aclose()


async def test_a_401_refreshes_once_for_all_concurrent_callers(
        api: AdminApi, clock: FakeClock) -> None:
    await clock.advance(ACCESS_TTL_S + 120)  # the server sees it expired
    pages = await asyncio.gather(*(api.users() for _ in range(5)))
    assert [u.email for u in pages[0].items] == [ADMIN_EMAIL]
    # One rotation: a second use of the rotated refresh token would revoke the session.
    assert api.refreshes == 1
    await api.users()


async def test_a_revoked_session_asks_for_login_again(api: AdminApi, clock: FakeClock) -> None:
    await clock.advance(8 * 86400)  # the refresh token has expired too
    with pytest.raises(LoginRequired):
        await api.users()
    assert not api.logged_in


async def test_errors_carry_the_catalogued_code(api: AdminApi) -> None:
    with pytest.raises(ApiError) as caught:
        await api.user("usr_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert (caught.value.status, caught.value.error_code) == (404, "SYS_002")
    assert caught.value.trace_id
    with pytest.raises(EndpointMissing):
        await api._get("/admin/no-such-thing", dict)


async def test_the_event_feed_resumes_after_the_server_ends_the_stream(
        api: AdminApi, js: JetStreamContext, clock: FakeClock) -> None:
    events = EventPublisher(js, RealClock())
    feed = EventFeed(api, min_delay_s=0.3)
    received: list[ServerEvent] = []

    async def follow() -> None:
        async for event in feed:
            received.append(event)

    task = asyncio.create_task(follow())
    try:
        await eventually(lambda: feed.connected, message="connected")
        await events.publish(events.build(EventType.ERROR, user_id="usr_a", strategy_id=None,
                                          data={"message": "one"}))
        await eventually(lambda: len(received) == 1, message="first event")
        # The access token expires (server clock): the server ends the stream.
        await clock.advance(ACCESS_TTL_S + 120)
        await eventually(lambda: not feed.connected, message="stream ended")
        # Published while no connection is open: only Last-Event-ID brings it back.
        await events.publish(events.build(EventType.ERROR, user_id="usr_a", strategy_id=None,
                                          data={"message": "two"}))
        await eventually(lambda: feed.connections == 2, timeout=10, message="reconnected")
        await events.publish(events.build(EventType.ERROR, user_id="usr_a", strategy_id=None,
                                          data={"message": "three"}))
        await eventually(lambda: len(received) == 3, timeout=10, message="all events")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert [e.payload["message"] for e in received] == ["one", "two", "three"]
    ids = [e.id or 0 for e in received]
    assert ids == sorted(set(ids))  # in order, none twice
    assert api.refreshes == 1


def test_algo_console_takes_the_url_and_account() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    for argv in (["-m", "console", "--help"],
                 ["-c", "from core.cli import main; main()", "console", "--help"]):
        result = subprocess.run([sys.executable, *argv], env=env, capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert "--url" in result.stdout and "--email" in result.stdout
