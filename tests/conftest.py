"""Real NATS, PostgreSQL and Redis for the whole session, started as `algo up` starts them.

Set ALGO_TEST_NATS_URL / ALGO_TEST_DATABASE_URL / ALGO_TEST_REDIS_URL to use external
servers instead. Every test starts from empty tables, an empty Redis db and fresh streams.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import ServerError
from quart import Quart
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import aio
from core.bootstrap import seed_reference_data
from core.clock import FakeClock
from core.db import migrate
from core.db.base import Base
from core.db.engine import create_engine, session_factory
from core.embedded.nats_server import EmbeddedNats
from core.embedded.process import pick_port, tcp_open
from core.embedded.redis_server import EmbeddedRedis
from core.embedded.stack import EmbeddedStack, Endpoints
from core.nats import connect_nats
from core.redis import create_redis
from core.settings import Settings
from core.streams import ensure_streams
from tests.stubs import eventually
from web.app import create_app

REFERENCE_TABLES = frozenset({"instruments"})


def make_settings(endpoints: Endpoints | None, data_dir: Path, **overrides: object) -> Settings:
    """Test settings: random secrets, cheap bcrypt, short heartbeats, the given servers."""
    values: dict[str, object] = {
        "env": "test",
        "data_dir": data_dir,
        "jwt_secret": secrets.token_urlsafe(48),
        "encryption_keys": "t1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "bcrypt_rounds": 4,
        "log_json": True,
        "heartbeat_interval_s": 0.2,
        "heartbeat_ttl_s": 2.0,
        "health_timeout_s": 1.0,
        "web_port": 0,
        "nats_port": 0,
        "nats_monitor_port": 0,
        "redis_port": 0,
        # Generous limits; the rate-limit tests set their own.
        "ratelimit_ip": "10000/60",
        "ratelimit_user": "10000/60",
        "ratelimit_auth_ip": "10000/60",
        "ratelimit_login_ip": "10000/60",
        "ratelimit_login_account": "10000/60",
    }
    if endpoints is not None:
        values.update(nats_url=endpoints.nats_url, database_url=endpoints.database_url,
                      redis_url=endpoints.redis_url)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short data directory for the session's servers."""
    return tmp_path_factory.mktemp("algo")


@pytest.fixture(scope="session")
def stack(session_dir: Path) -> Iterator[EmbeddedStack]:
    """The session's servers (only those without an ALGO_TEST_*_URL)."""
    settings = make_settings(
        None, session_dir,
        nats_url=os.environ.get("ALGO_TEST_NATS_URL"),
        database_url=os.environ.get("ALGO_TEST_DATABASE_URL"),
        redis_url=os.environ.get("ALGO_TEST_REDIS_URL"),
    )
    embedded = EmbeddedStack(settings, persistent_redis=False)
    endpoints = embedded.start()
    try:
        migrate.upgrade(endpoints.database_url)
        aio.run(seed_reference_data(endpoints.database_url))
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def endpoints(stack: EmbeddedStack) -> Endpoints:
    """Where the session's servers are."""
    return stack.endpoints()


@pytest.fixture
def settings(endpoints: Endpoints, tmp_path: Path) -> Settings:
    """Settings pointing at the session's servers."""
    return make_settings(endpoints, tmp_path)


@pytest.fixture(scope="session")
async def engine(endpoints: Endpoints) -> AsyncIterator[AsyncEngine]:
    """One engine for the session."""
    eng = create_engine(endpoints.database_url, pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory on the session's engine."""
    return session_factory(engine)


@pytest.fixture
async def redis(endpoints: Endpoints) -> AsyncIterator[Redis]:
    """A Redis client on the (flushed) test database."""
    client = create_redis(endpoints.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def nc(endpoints: Endpoints) -> AsyncIterator[NatsClient]:
    """A NATS connection."""
    conn = await connect_nats(endpoints.nats_url, name="tests")
    yield conn
    if not conn.is_closed:
        await conn.close()


@pytest.fixture
def js(nc: NatsClient) -> JetStreamContext:
    """JetStream on the test connection."""
    return nc.jetstream()


HANG_REPORT_AFTER_S = 200.0
"""Well before pytest-timeout fails a test, print where every task waits (the timeout's own
report shows only the idle event loop)."""


@pytest.fixture(autouse=True)
async def _report_hangs() -> AsyncIterator[None]:
    """Dump the stack of every asyncio task if a test runs far longer than any should."""
    async def watch() -> None:
        await asyncio.sleep(HANG_REPORT_AFTER_S)
        print(f"\n=== test still running after {HANG_REPORT_AFTER_S}s; tasks: ===",
              file=sys.stderr)
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.print_stack(file=sys.stderr)

    watcher = asyncio.create_task(watch())
    yield
    watcher.cancel()


@pytest.fixture(autouse=True)
async def _isolate(endpoints: Endpoints, engine: AsyncEngine) -> None:
    """Empty tables, an empty Redis db and fresh streams before each test."""
    # Reference data (the instrument list) stays; everything else starts empty.
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables
                       if t.name not in REFERENCE_TABLES)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    client = create_redis(endpoints.redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    conn_nats = await connect_nats(endpoints.nats_url, name="tests-isolate")
    try:
        js = conn_nats.jetstream()
        for name in [info.config.name for info in await js.streams_info()]:
            if name:
                await js.delete_stream(name)
        for attempt in range(5):
            try:
                await ensure_streams(js)
                break
            except ServerError:
                # Seen once on a loaded machine: a stream re-created right after its
                # deletion, before the server let go of the old store ("error creating
                # store for stream", 10049). A moment later it works.
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await conn_nats.close()


@pytest.fixture
async def app(settings: Settings) -> Quart:
    """A web app on the session's servers (not yet serving)."""
    return create_app(settings)


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[str]:
    """The app served by Hypercorn on a free loopback port; yields its base URL."""
    port = pick_port(0)
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(create_app(settings), config, shutdown_trigger=stop.wait))
    await eventually(lambda: tcp_open("127.0.0.1", port), timeout=10, message="live server")
    yield f"http://127.0.0.1:{port}"
    stop.set()
    await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def client(app: Quart) -> AsyncIterator[HttpClient]:
    """A test client of the running app (its lifespan hooks have run)."""
    async with app.test_app() as test_app:
        yield test_app.test_client()


@pytest.fixture
def private_servers(tmp_path: Path) -> Iterator[tuple[EmbeddedNats, EmbeddedRedis]]:
    """A NATS and a Redis of this test's own, so they can be stopped."""
    nats = EmbeddedNats(tmp_path / "nats", pick_port(0), pick_port(0))
    redis = EmbeddedRedis(tmp_path / "redis", pick_port(0), persistent=False)
    nats.start()
    redis.start()
    yield nats, redis
    redis.stop()
    nats.stop()


@pytest.fixture
async def fragile_app(private_servers: tuple[EmbeddedNats, EmbeddedRedis],
                      endpoints: Endpoints, tmp_path: Path) -> Quart:
    """An app on the session's PostgreSQL but this test's own NATS and Redis."""
    nats, redis = private_servers
    return create_app(make_settings(endpoints, tmp_path, nats_url=nats.url, redis_url=redis.url,
                                    health_timeout_s=0.5))


@pytest.fixture
async def fragile_client(fragile_app: Quart) -> AsyncIterator[HttpClient]:
    """A test client of `fragile_app`."""
    async with fragile_app.test_app() as test_app:
        yield test_app.test_client()


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting now, for apps whose time the test moves."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
async def timed_client(settings: Settings, clock: FakeClock) -> AsyncIterator[HttpClient]:
    """A test client of an app running on `clock`."""
    app = create_app(settings, clock=clock)
    async with app.test_app() as test_app:
        yield test_app.test_client()
