"""/broker against the running app and each broker's fake: connect (browser login and
direct), the OAuth callback, validate, status, disconnect, audit, and no secret in any
response or log line. Reconnecting, status and an unreachable broker run against all four
fakes; Kite's own details (its redirect_params, the daily request-token login) against the
fake Kite alone. The kit is tests/broker_api_kit.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import IST
from core.db.models import BrokerCredential
from tests.broker_api_kit import KITE_ONLY, Api, audit, credential, next_rollover
from tests.broker_api_kit import api as api  # the fixtures
from tests.broker_api_kit import case as case
from tests.broker_api_kit import recorder as recorder
from tests.broker_logins import KITE_LOGIN_BASE as LOGIN_BASE
from tests.stubs import bearer, signup


@KITE_ONLY
async def test_browser_login_through_the_callback(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    status, out = await api.connect(credentials=api.app_secrets(), label="main")
    assert status == 201, out
    pending = out["connection"]
    assert pending["id"].startswith("brk_")
    assert (pending["state"], pending["is_valid"]) == ("pending_login", False)
    url = urlsplit(out["login_url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == LOGIN_BASE
    assert query["api_key"] == [api.fake.book.api_key] and query["v"] == ["3"]
    state = parse_qs(query["redirect_params"][0])["state"][0]

    # Kite sends the browser back with the request token and our redirect_params; the
    # callback needs the user's own authentication (session cookie or bearer).
    request_token = api.fake.book.issue_request_token()
    redirect = {"request_token": request_token, "action": "login", "status": "success",
                "state": state}
    status, anonymous = await api.call("GET", "/broker/callback/zerodha", auth=False,
                                       query_string=redirect)
    assert (status, anonymous["error_code"]) == (401, "AUTH_001"), anonymous
    status, connected = await api.call("GET", "/broker/callback/zerodha",
                                       query_string=redirect)
    assert status == 200, connected
    assert connected["id"] == pending["id"]
    assert (connected["state"], connected["is_valid"]) == ("connected", True)
    assert connected["account_id"] == api.fake.book.user_id
    assert connected["label"] == "main"
    expires = datetime.fromisoformat(connected["token_expires_at"])
    assert expires == next_rollover(datetime.now(IST))

    # The state is single use: a replayed redirect changes nothing.
    status, replay = await api.call("GET", "/broker/callback/zerodha",
                                    query_string=redirect)
    assert (status, replay["error_code"]) == (400, "BRK_006")

    row = await credential(sessions, pending["id"])
    assert row.key_id and row.encrypted_access_token and row.encrypted_api_secret
    assert api.fake.book.api_secret.encode() not in row.encrypted_api_secret
    assert await audit(sessions) == [("broker.connect", pending["id"]),
                                      ("broker.login", pending["id"])]


@KITE_ONLY
async def test_a_failed_or_foreign_redirect_is_refused(api: Api) -> None:
    _, out = await api.connect(credentials=api.app_secrets())
    state = parse_qs(parse_qs(urlsplit(out["login_url"]).query)["redirect_params"][0])["state"]
    status, body = await api.call("GET", "/broker/callback/zerodha",
                                  query_string={"status": "cancelled", "state": state[0]})
    assert (status, body["error_code"]) == (422, "BRK_009")
    status, body = await api.call("GET", "/broker/callback/zerodha",
                                  query_string={"request_token": "x", "status": "success",
                                                "state": "not-ours"})
    assert (status, body["error_code"]) == (400, "BRK_006")


async def test_direct_login_reconnect_and_one_connection_per_account(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    first = await api.logged_in()
    assert first["state"] == "connected"
    # The daily login: the stored secrets are used, only a new code (if any) is sent.
    status, out = await api.connect(credential_id=first["id"], code=api.case.code())
    assert status == 200, out
    assert out["connection"]["id"] == first["id"] and out["login_url"] is None
    # Connecting the same account again reconnects it instead of making a twin.
    status, out = await api.connect(credentials=api.app_secrets(), code=api.case.code())
    assert (status, out["connection"]["id"]) == (200, first["id"])
    _, listed = await api.call("GET", "/broker/status")
    assert [c["connection"]["id"] for c in listed["connections"]] == [first["id"]]
    assert [a for a, _ in await audit(sessions)] == ["broker.connect"] * 3


@KITE_ONLY
@pytest.mark.parametrize(("body", "expected"), [
    ({"broker_type": "nosuch", "credentials": {"api_key": "k"}}, (422, "BRK_001")),
    ({"broker_type": "paper"}, (422, "BRK_001")),
    ({"broker_type": "zerodha", "credentials": {"api_key": "k"}}, (422, "BRK_002")),
    ({"broker_type": "zerodha", "credentials": {"API KEY": "k"}}, (422, "VAL_001")),
    ({"broker_type": "zerodha", "credentials": {"api_key": "k", "api_secret": "s"},
      "code": "not-a-request-token"}, (422, "BRK_003")),
])
async def test_bad_connects_store_nothing(api: Api, body: dict[str, Any],
                                          expected: tuple[int, str]) -> None:
    status, out = await api.call("POST", "/broker/connect", json=body)
    assert (status, out["error_code"]) == expected
    _, listed = await api.call("GET", "/broker/status")
    assert listed["connections"] == []


@KITE_ONLY
async def test_validate_stores_nothing(api: Api, sessions: async_sessionmaker[AsyncSession],
                                       ) -> None:
    secrets = api.app_secrets()
    status, good = await api.call("POST", "/broker/validate", json={
        "broker_type": "zerodha", "credentials": secrets,
        "code": api.fake.book.issue_request_token()})
    assert status == 200 and good["valid"] is True, good
    assert good["account_id"] == api.fake.book.user_id and good["token_expires_at"]
    token = api.fake.book.issue_access_token()
    _, direct = await api.call("POST", "/broker/validate", json={
        "broker_type": "zerodha", "credentials": {**secrets, "access_token": token}})
    assert direct["valid"] is True
    _, bad = await api.call("POST", "/broker/validate", json={
        "broker_type": "zerodha", "credentials": {**secrets, "api_secret": "wrong"},
        "code": api.fake.book.issue_request_token()})
    assert (bad["valid"], bad["error_code"]) == (False, "BRK_003")
    _, browser = await api.call("POST", "/broker/validate", json={
        "broker_type": "zerodha", "credentials": secrets})
    assert (browser["valid"], browser["error_code"]) == (False, "BRK_009")
    async with sessions() as session:
        assert (await session.execute(select(BrokerCredential))).first() is None
    assert await audit(sessions) == []

    connection = await api.logged_in()
    _, stored = await api.call("POST", "/broker/validate", json={
        "broker_type": "zerodha", "credential_id": connection["id"]})
    assert stored["valid"] is True


async def test_status_reports_expiry_and_a_session_the_broker_refuses(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    connection = await api.logged_in()
    _, listed = await api.call("GET", "/broker/status")
    [item] = listed["connections"]
    assert item["connection"]["state"] == "connected"
    assert 0 < item["expires_in_s"] <= 28 * 3600  # Angel One's sessions live 28 h
    assert item["health"]["reachable"] is True
    assert item["running_strategies"] == 0

    api.case.end_sessions()  # the user logged out at the broker
    _, listed = await api.call("GET", "/broker/status", query_string={"check": "true"})
    [item] = listed["connections"]
    assert item["health"]["reachable"] is True  # it answered
    row = await credential(sessions, connection["id"])
    if api.case.broker_type == "angel_one":  # logs in again with the stored PIN and TOTP
        assert item["connection"]["state"] == "connected" and row.is_valid is True
        return
    assert (item["connection"]["state"], item["connection"]["status_reason"]) == (
        "invalid", "rejected_by_broker")  # it said no
    assert row.is_valid is False


async def test_an_unreachable_broker(api: Api) -> None:
    connection = await api.logged_in()
    await api.case.stop()
    status, out = await api.connect(credentials=api.app_secrets(), code=api.case.code())
    assert (status, out["error_code"]) == (503, "BRK_004")
    _, listed = await api.call("GET", "/broker/status", query_string={"check": "true"})
    [item] = listed["connections"]
    assert item["connection"]["id"] == connection["id"]
    assert item["connection"]["state"] == "connected"  # not refused: merely unreachable
    assert item["health"]["reachable"] is False


@KITE_ONLY
async def test_disconnect_is_refused_while_a_strategy_runs(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    connection = await api.logged_in()
    strategy = {"name": "s", "symbol": "NSE:INFY", "buy_time": "09:20:00",
                "sell_time": "15:10:00", "stop_loss": {"type": "PERCENT", "value": "1"},
                "quantity": 1, "broker_credential_id": connection["id"]}
    status, created = await api.call("POST", "/strategies", json=strategy)
    assert status == 201, created
    await api.call("POST", f"/strategies/{created['id']}/start")
    _, listed = await api.call("GET", "/broker/status")
    assert listed["connections"][0]["running_strategies"] == 1

    path = "/broker/disconnect"
    status, out = await api.call("DELETE", path, query_string={"credential_id": connection["id"]})
    assert (status, out["error_code"]) == (409, "BRK_005")
    assert out["details"] == {"strategies": [created["id"]]}

    await api.call("POST", f"/strategies/{created['id']}/stop")
    status, _ = await api.call("DELETE", path, query_string={"credential_id": connection["id"]})
    assert status == 204
    status, out = await api.call("DELETE", path, query_string={"credential_id": connection["id"]})
    assert (status, out["error_code"]) == (404, "BRK_008")
    _, listed = await api.call("GET", "/broker/status")
    assert listed["connections"] == []
    row = await credential(sessions, connection["id"])
    assert row.deleted_at is not None and row.status_reason == "disconnected"
    assert (row.encrypted_api_key, row.encrypted_api_secret, row.encrypted_access_token) == (
        None, None, None)
    assert ("broker.disconnect", connection["id"]) in await audit(sessions)
    # A strategy can no longer choose it.
    status, out = await api.call("POST", "/strategies", json=strategy)
    assert (status, out["error_code"]) == (422, "STR_006")


@KITE_ONLY
async def test_another_users_connection_is_not_found(api: Api) -> None:
    connection = await api.logged_in()
    other = bearer((await signup(api.client, "other@example.com"))["access_token"])
    api.headers = other
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("DELETE", "/broker/disconnect", {"query_string": {"credential_id": connection["id"]}}),
        ("POST", "/broker/validate", {"json": {"broker_type": "zerodha",
                                               "credential_id": connection["id"]}}),
        ("POST", "/broker/connect", {"json": {"broker_type": "zerodha",
                                              "credential_id": connection["id"]}}),
    ]
    for method, path, kwargs in calls:
        status, out = await api.call(method, path, **kwargs)
        assert (status, out["error_code"]) == (404, "BRK_008"), path
    _, listed = await api.call("GET", "/broker/status")
    assert listed["connections"] == []


@KITE_ONLY
async def test_no_secret_in_any_response_or_log_line(api: Api) -> None:
    """Runs every flow, then greps everything the app said and logged. (The login URL
    carries the api_key and the login state: Kite's login page needs both in the clear.)"""
    secrets = api.app_secrets()
    _, out = await api.connect(credentials=secrets)
    redirect_params = parse_qs(urlsplit(out["login_url"]).query)["redirect_params"][0]
    state = parse_qs(redirect_params)["state"][0]
    request_tokens = [api.fake.book.issue_request_token() for _ in range(3)]
    await api.call("GET", "/broker/callback/zerodha", query_string={
        "request_token": request_tokens[0], "status": "success", "state": state})
    await api.call("GET", "/broker/callback/zerodha", query_string={
        "request_token": request_tokens[0], "status": "success", "state": state})
    await api.call("POST", "/broker/validate", json={"broker_type": "zerodha",
                                                     "credentials": secrets,
                                                     "code": request_tokens[1]})
    await api.call("POST", "/broker/validate", json={
        "broker_type": "zerodha", "credentials": {**secrets, "api_secret": "wrong-secret-x"},
        "code": request_tokens[2]})
    await api.call("POST", "/broker/connect", json={
        "broker_type": "zerodha", "credentials": {"api_key": "k", "api_secret": "x" * 2000}})
    await api.call("GET", "/broker/status", query_string={"check": "true"})
    access_tokens = set(api.fake.book.access_tokens)
    api.fake.book.access_tokens.clear()
    await api.call("GET", "/broker/status", query_string={"check": "true"})
    await api.fake.stop()
    await api.call("POST", "/broker/connect", json={"broker_type": "zerodha",
                                                    "credentials": secrets, "code": "rt-gone"})

    said = api.recorder.text()
    assert "broker.login" in said or "broker connected" in said  # the logs were captured
    issued = {*access_tokens, *request_tokens}
    assert access_tokens
    issued |= {r.form.get("checksum", "") for r in api.fake.book.requests} - {""}
    for secret in [secrets["api_secret"], "wrong-secret-x", "x" * 2000, "rt-gone", *issued]:
        assert secret not in said, f"a secret leaked: {secret[:4]}…"
    for request in api.fake.book.requests:  # tokens the fake issued, as sent back to it
        header = request.headers.get("Authorization") or request.headers.get("authorization")
        if header:
            assert header.partition(":")[2] not in said
