"""The whole connect flow at each broker's fake (tests/broker_logins.py drives each):
/broker/connect, the callback where the broker redirects, /broker/status, /broker/validate,
/broker/disconnect, and no secret or token in any response or log line; Dhan's access-token
login, and Angel One's own re-login making its connection valid again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.angel_one.registry import AngelOneBuilder
from core.clock import IST, RealClock
from core.db.models import BrokerCredential
from core.repos import broker_credentials
from tests.broker_api_kit import Api, audit, credential, leaks
from tests.broker_api_kit import api as api  # the fixtures
from tests.broker_api_kit import case as case
from tests.broker_api_kit import recorder as recorder
from tests.broker_logins import DhanLogin


async def test_connect_status_validate_disconnect(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    """The whole connect flow at each broker, then a grep of everything the app said and
    logged for the broker's secrets and tokens."""
    broker = api.case
    status, out = await api.connect(credentials=broker.secrets(), label="main")
    assert status == 201, out
    connection = out["connection"]
    if broker.browser:  # the broker's login page, then its redirect to our callback
        assert (connection["state"], out["login_url"]) != ("connected", None)
        redirect = broker.redirect(out["login_url"])
        path = f"/broker/callback/{broker.broker_type}"
        status, connected = await api.call("GET", path, query_string=redirect)
        assert status == 200, connected
        assert connected["id"] == connection["id"]
        status, replay = await api.call("GET", path, query_string=redirect)
        assert (status, replay["error_code"]) == (400, "BRK_006")
        connection = connected
    else:
        assert out["login_url"] is None
    assert (connection["state"], connection["is_valid"]) == ("connected", True)
    assert (connection["account_id"], connection["label"]) == (broker.account_id, "main")
    assert datetime.fromisoformat(connection["token_expires_at"]) > datetime.now(IST)

    _, listed = await api.call("GET", "/broker/status", query_string={"check": "true"})
    [item] = listed["connections"]
    assert item["connection"]["state"] == "connected" and item["health"]["reachable"]
    _, stored = await api.call("POST", "/broker/validate", json={
        "broker_type": broker.broker_type, "credential_id": connection["id"]})
    assert (stored["valid"], stored["account_id"]) == (True, broker.account_id), stored
    _, fresh = await api.call("POST", "/broker/validate", json={
        "broker_type": broker.broker_type, "credentials": broker.secrets(), "code": broker.code()})
    assert fresh["valid"] is True, fresh
    _, bad = await api.call("POST", "/broker/validate", json={
        "broker_type": broker.broker_type, "credentials": broker.wrong_secrets(),
        "code": broker.code()})
    assert (bad["valid"], bad["error_code"]) == (False, "BRK_003"), bad

    row = await credential(sessions, connection["id"])
    assert row.key_id and row.encrypted_access_token
    broker.end_sessions()
    _, listed = await api.call("GET", "/broker/status", query_string={"check": "true"})
    # Angel One logs in again by itself with the stored PIN and TOTP; the others need
    # their user.
    assert listed["connections"][0]["connection"]["status_reason"] == (
        None if broker.broker_type == "angel_one" else "rejected_by_broker")
    status, _ = await api.call("DELETE", "/broker/disconnect",
                               query_string={"credential_id": connection["id"]})
    assert status == 204
    _, listed = await api.call("GET", "/broker/status")
    assert listed["connections"] == []
    row = await credential(sessions, connection["id"])
    assert (row.encrypted_api_key, row.encrypted_api_secret, row.encrypted_access_token,
            row.encrypted_extra) == (None, None, None, None)
    actions = [a for a, _ in await audit(sessions)]
    assert actions == ["broker.connect", *(["broker.login"] if broker.browser else []),
                       "broker.disconnect"]

    said = api.recorder.text()
    assert "broker connected" in said  # the logs were captured
    assert not leaks(said, broker.issued()), "a secret leaked"


@pytest.mark.parametrize("case", ["angel_one"], indirect=True)
async def test_a_login_the_angel_adapter_makes_by_itself_makes_the_row_valid(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    """The session died overnight and the row was marked invalid for it; the adapter
    logs in again with the stored PIN and TOTP and stores the session: the connection is
    `connected` again, and the next token check leaves it alone."""
    connection = await api.logged_in()
    now = datetime.now(IST)
    async with sessions() as session, session.begin():
        await session.execute(update(BrokerCredential)
                              .where(BrokerCredential.id == connection["id"])
                              .values(token_expires_at=now - timedelta(minutes=1),
                                      is_valid=False, status_reason="token_expired"))
    row = await credential(sessions, connection["id"])
    assert (row.is_valid, row.status_reason) == (False, "token_expired")

    broker = await AngelOneBuilder(api.settings, sessions, RealClock())(
        user_id=row.user_id, credential_id=row.id)
    try:
        assert (await broker.validate()).account_id == api.case.account_id
    finally:
        await broker.close()
    row = await credential(sessions, connection["id"])
    assert (row.is_valid, row.status_reason) == (True, None)
    assert row.token_expires_at is not None and row.token_expires_at > now
    assert row.last_validated_at is not None and row.last_validated_at >= now
    _, listed = await api.call("GET", "/broker/status")
    assert listed["connections"][0]["connection"]["state"] == "connected"
    async with sessions() as session, session.begin():
        assert await broker_credentials.expire_due(session, datetime.now(IST)) == 0


@pytest.mark.parametrize("case", ["dhan"], indirect=True)
async def test_dhan_takes_an_access_token_generated_on_its_web_site(api: Api) -> None:
    """Route 1 of brokers/dhan/auth.py: the token is checked with /v2/profile, whose
    tokenValidity becomes the expiry; neither a token nor the PIN and TOTP is BRK_002."""
    assert isinstance(api.case, DhanLogin)
    book = api.case.kit.fake.book
    token = book.issue_access_token()
    status, out = await api.connect(credentials={"client_id": book.client_id,
                                                 "access_token": token})
    assert status == 201, out
    connection = out["connection"]
    assert (connection["state"], connection["account_id"]) == ("connected", book.client_id)
    assert datetime.fromisoformat(connection["token_expires_at"]) == datetime(
        2026, 11, 30, 9, 15, tzinfo=IST)  # the fake's tokenValidity "30/11/2026 09:15"
    status, out = await api.connect(credentials={"client_id": book.client_id})
    assert (status, out["error_code"]) == (422, "BRK_002")
    _, bad = await api.call("POST", "/broker/validate", json={
        "broker_type": "dhan", "credentials": {"client_id": book.client_id,
                                               "access_token": "eyJnot-a-token"}})
    assert (bad["valid"], bad["error_code"]) == (False, "BRK_003"), bad
    assert token not in api.recorder.text()
