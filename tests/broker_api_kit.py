"""The /broker API tests' kit (tests/test_broker_api.py, tests/test_broker_connect.py):
the app pointed at each broker's fake, a user's recorded calls, and a recorder of every
response body and log line to grep for secrets."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import IST
from core.db.models import AuditLog, BrokerCredential
from core.embedded.stack import Endpoints
from core.logging import JsonFormatter
from core.settings import Settings
from tests.broker_logins import BrokerLogin, KiteLogin, login_for
from tests.conftest import make_settings
from tests.fakes.kite import KiteFake
from tests.fakes.kits import KITS
from tests.stubs import bearer, signup
from web.app import create_app

KITE_ONLY = pytest.mark.parametrize("case", ["zerodha"], indirect=True)


@dataclass
class Recorder:
    """Every response body and every log line of the test, to grep for secrets."""

    bodies: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.bodies + self.lines)


class _Lines(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("test"))
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self._sink.append(self.format(record))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """All log records at DEBUG, formatted as the product formats them (extras included)."""
    found = Recorder()
    handler = _Lines(found.lines)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield found
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(params=sorted(KITS))
async def case(request: pytest.FixtureRequest) -> AsyncIterator[BrokerLogin]:
    """A running fake of each broker (one per test run), and how to log in to it."""
    async with KITS[request.param]() as kit:
        yield login_for(kit)


@pytest.fixture
async def api(endpoints: Endpoints, tmp_path: Path, case: BrokerLogin,
              recorder: Recorder) -> AsyncIterator[Api]:
    """The app pointed at the fake broker, and a user of it."""
    settings = make_settings(endpoints, tmp_path, **case.settings(),
                             broker_read_timeout_s=1.0)
    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        tokens = await signup(client, "trader@example.com")
        yield Api(client, bearer(tokens["access_token"]), case, recorder, settings)


@dataclass
class Api:
    """A user's calls, every response recorded."""

    client: HttpClient
    headers: dict[str, str]
    case: BrokerLogin
    recorder: Recorder
    settings: Settings

    @property
    def fake(self) -> KiteFake:
        """The fake Kite (tests marked KITE_ONLY)."""
        assert isinstance(self.case, KiteLogin), self.case
        return self.case.kit.fake

    async def call(self, method: str, path: str, *, auth: bool = True,
                   **kwargs: Any) -> tuple[int, Any]:
        response = await self.client.open(path, method=method,
                                          headers=self.headers if auth else {}, **kwargs)
        raw = await response.get_data(as_text=True)
        self.recorder.bodies.append(raw)
        return response.status_code, json.loads(raw) if raw else None

    def app_secrets(self) -> dict[str, str]:
        return self.case.secrets()

    async def connect(self, **body: Any) -> tuple[int, Any]:
        return await self.call("POST", "/broker/connect",
                               json={"broker_type": self.case.broker_type, **body})

    async def logged_in(self, **body: Any) -> dict[str, Any]:
        """A connected account, logged in without the browser (Kite and Fyers take the
        redirect's code with the connect)."""
        status, out = await self.connect(credentials=self.app_secrets(),
                                         code=self.case.code(), **body)
        assert status == 201, out
        connection: dict[str, Any] = out["connection"]
        return connection


def next_rollover(now: datetime) -> datetime:
    local = now.astimezone(IST)
    six = datetime.combine(local.date(), time(6), IST)
    return six if local < six else six + timedelta(days=1)


async def audit(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        rows = (await session.execute(select(AuditLog).order_by(AuditLog.created_at,
                                                                AuditLog.id))).scalars()
        return [(r.action, r.target_id) for r in rows]


async def credential(sessions: async_sessionmaker[AsyncSession],
                     credential_id: str) -> BrokerCredential:
    async with sessions() as session:
        row = await session.get(BrokerCredential, credential_id)
    assert row is not None
    return row


def leaks(said: str, secrets: set[str]) -> list[str]:
    """The secrets found in `said`: long ones anywhere, short ones (PINs, TOTP codes) as a
    whole word, so that a digit run inside an id or a timestamp is not taken for one."""
    found = []
    for secret in secrets - {""}:
        if len(secret) >= 8:
            hit = secret in said
        else:
            hit = re.search(rf"(?<![\w.:+-]){re.escape(secret)}(?![\w.:+-])", said) is not None
        if hit:
            found.append(f"{secret[:4]}…")
    return found
