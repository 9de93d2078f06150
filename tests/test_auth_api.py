"""/auth against the running app: success paths and every refusal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock
from core.db.models import AuditLog, RefreshToken, User
from core.embedded.nats_server import EmbeddedNats
from core.embedded.redis_server import EmbeddedRedis
from core.settings import Settings
from tests.stubs import PASSWORD, bearer, eventually, login, register, signup


async def _error(response: object) -> str:
    body = await response.get_json()  # type: ignore[attr-defined]
    assert set(body) == {"error_code", "message", "details", "trace_id"}
    return str(body["error_code"])


# --- register -----------------------------------------------------------------------------

async def test_register_normalises_email_and_hides_the_hash(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    body = await register(client, "  Trader.One@Example.COM ")
    assert body["email"] == "trader.one@example.com"
    assert body["role"] == "user"
    assert body["id"].startswith("usr_")
    assert "password" not in json.dumps(body)
    async with sessions() as session:
        user = await session.get(User, body["id"])
    assert user is not None
    assert user.password_hash.startswith("$2b$04$")  # bcrypt; cost 4 only because ALGO_ENV=test


@pytest.mark.parametrize(("email", "password", "field"), [
    ("not-an-email", PASSWORD, "email"),
    ("a@b", PASSWORD, "email"),
    ("x@example.com", "short", "password"),
    ("x@example.com", "a" * 73, "password"),
    ("x@example.com", "é" * 37, "password"),  # 74 bytes in UTF-8, 37 characters
    ("x@example.com", "      ", "password"),
])
async def test_register_rejects_bad_input(client: HttpClient, email: str, password: str,
                                          field: str,
                                          sessions: async_sessionmaker[AsyncSession]) -> None:
    response = await client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 422
    body = await response.get_json()
    assert body["error_code"] == "VAL_001"
    assert [d["field"] for d in body["details"]] == [field]
    async with sessions() as session:
        assert (await session.execute(select(User))).first() is None


async def test_72_byte_password_is_accepted(client: HttpClient) -> None:
    await signup(client, "long@example.com", "a" * 72)


async def test_duplicate_email_is_refused_case_insensitively(client: HttpClient) -> None:
    await register(client, "dup@example.com")
    response = await client.post("/auth/register",
                                 json={"email": "DUP@example.com", "password": PASSWORD})
    assert response.status_code == 409
    assert await _error(response) == "AUTH_007"


# --- login, me ----------------------------------------------------------------------------

async def test_login_returns_tokens_and_records_last_login(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    await register(client, "me@example.com")
    tokens = await login(client, "ME@example.com")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert tokens["refresh_expires_in"] == 7 * 24 * 3600
    assert tokens["user"]["role"] == "user"
    me = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    body = await me.get_json()
    assert body["email"] == "me@example.com"
    assert body["last_login_at"] is not None


async def test_cookie_authenticates_too(client: HttpClient) -> None:
    tokens = await signup(client, "cookie@example.com")
    client.set_cookie("localhost", "algo_access", tokens["access_token"])
    assert (await client.get("/auth/me")).status_code == 200


@pytest.mark.parametrize(("email", "password"), [
    ("me@example.com", "wrong-password"), ("nobody@example.com", PASSWORD)])
async def test_login_refusals_look_the_same(client: HttpClient, email: str,
                                            password: str) -> None:
    await register(client, "me@example.com")
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    body = await response.get_json()
    assert body["error_code"] == "AUTH_003"
    assert body["message"] == "Invalid e-mail or password"


async def test_me_needs_a_valid_access_token(client: HttpClient) -> None:
    tokens = await signup(client, "me@example.com")
    no_token = await client.get("/auth/me")
    assert no_token.status_code == 401
    assert await _error(no_token) == "AUTH_001"
    garbage = await client.get("/auth/me", headers=bearer("not.a.token"))
    assert await _error(garbage) == "AUTH_005"
    refresh_as_access = await client.get("/auth/me", headers=bearer(tokens["refresh_token"]))
    assert refresh_as_access.status_code == 401
    assert await _error(refresh_as_access) == "AUTH_005"


# --- refresh rotation and reuse -------------------------------------------------------------

async def test_refresh_rotates_and_old_token_dies(client: HttpClient) -> None:
    first = await signup(client, "rot@example.com")
    response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = await response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/auth/me", headers=bearer(second["access_token"]))).status_code \
        == 200
    third = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200


async def test_reused_refresh_token_revokes_its_family(
        timed_client: HttpClient, clock: FakeClock,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    client = timed_client
    stolen = await signup(client, "victim@example.com")
    other_device = await login(client, "victim@example.com")
    rotated = await (await client.post(
        "/auth/refresh", json={"refresh_token": stolen["refresh_token"]})).get_json()
    await clock.advance(60)

    replay = await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert replay.status_code == 401
    assert await _error(replay) == "AUTH_010"

    # The rotated tokens of the same session are dead too, access token included…
    after = await client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401
    me = await client.get("/auth/me", headers=bearer(rotated["access_token"]))
    assert await _error(me) == "AUTH_006"
    # …but the other device's session lives on.
    other = await client.post("/auth/refresh",
                              json={"refresh_token": other_device["refresh_token"]})
    assert other.status_code == 200
    async with sessions() as session:
        events = (await session.execute(select(AuditLog).where(
            AuditLog.action == "security.refresh_token_reuse"))).scalars().all()
    assert len(events) == 1
    assert events[0].actor_id == stolen["user"]["id"]


async def test_a_racing_second_refresh_does_not_end_the_session(client: HttpClient) -> None:
    tokens = await signup(client, "tabs@example.com")
    first, second = [await client.post("/auth/refresh",
                                       json={"refresh_token": tokens["refresh_token"]})
                     for _ in range(2)]
    assert first.status_code == 200
    assert second.status_code == 401
    assert await _error(second) == "AUTH_006"
    winner = await first.get_json()
    assert (await client.get("/auth/me", headers=bearer(winner["access_token"]))).status_code \
        == 200
    assert (await client.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]})
            ).status_code == 200


async def test_refresh_racing_logout_never_leaves_a_live_token(client: HttpClient) -> None:
    for i in range(5):
        tokens = await signup(client, f"race{i}@example.com")
        refreshed, logged_out = await asyncio.gather(
            client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
            client.post("/auth/logout", headers=bearer(tokens["access_token"]), json={}))
        assert logged_out.status_code == 204
        if refreshed.status_code == 200:
            new = await refreshed.get_json()
            me = await client.get("/auth/me", headers=bearer(new["access_token"]))
            assert me.status_code == 401
            again = await client.post("/auth/refresh",
                                      json={"refresh_token": new["refresh_token"]})
            assert again.status_code == 401


async def test_refresh_needs_a_refresh_token(client: HttpClient) -> None:
    tokens = await signup(client, "typ@example.com")
    response = await client.post("/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401
    assert await _error(response) == "AUTH_005"


# --- logout, sessions ------------------------------------------------------------------------

async def test_logout_without_refresh_token_still_ends_the_session(client: HttpClient) -> None:
    tokens = await signup(client, "short@example.com")
    response = await client.post("/auth/logout", headers=bearer(tokens["access_token"]),
                                 json={})
    assert response.status_code == 204
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_logout_denylists_access_token_and_ends_session(
        client: HttpClient, redis: Redis) -> None:
    tokens = await signup(client, "bye@example.com")
    headers = bearer(tokens["access_token"])
    response = await client.post("/auth/logout", headers=headers,
                                 json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 204
    after = await client.get("/auth/me", headers=headers)
    assert after.status_code == 401
    assert await _error(after) == "AUTH_006"
    keys = [k async for k in redis.scan_iter(match="denylist:jti:*")]
    assert len(keys) == 1
    assert 900 <= await redis.ttl(keys[0]) <= 960
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_sessions_are_listed_and_ended_only_by_their_owner(client: HttpClient) -> None:
    alice = await signup(client, "alice@example.com")
    await login(client, "alice@example.com")
    bob = await signup(client, "bob@example.com")
    listed = await (await client.get("/auth/sessions",
                                     headers=bearer(alice["access_token"]))).get_json()
    assert len(listed["items"]) == 2
    alice_session = listed["items"][0]["id"]

    # Bob cannot see or end Alice's session: it does not exist for him.
    cross = await client.delete(f"/auth/sessions/{alice_session}",
                                headers=bearer(bob["access_token"]))
    assert cross.status_code == 404
    assert await _error(cross) == "SYS_002"
    bob_listed = await (await client.get("/auth/sessions",
                                         headers=bearer(bob["access_token"]))).get_json()
    assert alice_session not in {s["id"] for s in bob_listed["items"]}
    # Nor log it out with her refresh token.
    foreign = await client.post("/auth/logout", headers=bearer(bob["access_token"]),
                                json={"refresh_token": alice["refresh_token"]})
    assert foreign.status_code == 404
    still = await client.post("/auth/refresh", json={"refresh_token": alice["refresh_token"]})
    assert still.status_code == 200

    second_login = await client.get("/auth/sessions", headers=bearer(alice["access_token"]))
    assert second_login.status_code == 200
    ended = await client.delete(f"/auth/sessions/{alice_session}",
                                headers=bearer(alice["access_token"]))
    assert ended.status_code == 204
    remaining = await (await client.get("/auth/sessions",
                                        headers=bearer(alice["access_token"]))).get_json()
    assert alice_session not in {s["id"] for s in remaining["items"]}


# --- deactivated and deleted users ------------------------------------------------------------

async def test_deactivated_user_loses_access_at_once(
        client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    tokens = await signup(client, "gone@example.com")
    async with sessions() as session, session.begin():
        user = await session.get(User, tokens["user"]["id"])
        assert user is not None
        user.is_active = False
    me = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401
    assert await _error(me) == "AUTH_008"
    again = await client.post("/auth/login",
                              json={"email": "gone@example.com", "password": PASSWORD})
    assert await _error(again) == "AUTH_008"
    refreshed = await client.post("/auth/refresh",
                                  json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


# --- password reset ----------------------------------------------------------------------------

def _outbox(settings: Settings) -> list[dict[str, str]]:
    path: Path = settings.data_dir / "outbox" / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_forgot_password_answers_the_same_for_unknown_emails(
        client: HttpClient, settings: Settings) -> None:
    await register(client, "known@example.com")
    known = await client.post("/auth/forgot-password", json={"email": "known@example.com"})
    unknown = await client.post("/auth/forgot-password", json={"email": "who@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert await known.get_json() == await unknown.get_json()
    mails = await eventually(lambda: _outbox(settings), message="reset mail")
    assert [m["to"] for m in mails] == ["known@example.com"]


async def test_reset_password_is_single_use_and_ends_sessions(
        client: HttpClient, settings: Settings,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    tokens = await signup(client, "reset@example.com")
    await client.post("/auth/forgot-password", json={"email": "reset@example.com"})
    mails = await eventually(lambda: _outbox(settings), message="reset mail")
    reset_token = mails[0]["body"].split("\n\n")[1].strip()

    weak = await client.post("/auth/reset-password",
                             json={"token": reset_token, "new_password": "123"})
    assert weak.status_code == 422
    done = await client.post("/auth/reset-password",
                             json={"token": reset_token, "new_password": "brand-new-pass"})
    assert done.status_code == 204
    again = await client.post("/auth/reset-password",
                              json={"token": reset_token, "new_password": "another-pass"})
    assert again.status_code == 400
    assert await _error(again) == "AUTH_009"

    # The access token of the session opened before the reset dies at once.
    stale = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert stale.status_code == 401
    old = await client.post("/auth/login", json={"email": "reset@example.com",
                                                 "password": PASSWORD})
    assert old.status_code == 401
    await login(client, "reset@example.com", "brand-new-pass")
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    async with sessions() as session:
        rows = (await session.execute(select(RefreshToken).where(
            RefreshToken.revoked_reason == "password_reset"))).scalars().all()
    assert len(rows) == 1


async def test_unknown_reset_token(client: HttpClient) -> None:
    response = await client.post("/auth/reset-password",
                                 json={"token": "x" * 43, "new_password": "brand-new-pass"})
    assert response.status_code == 400
    assert await _error(response) == "AUTH_009"


# --- stream tickets ------------------------------------------------------------------------------

async def test_stream_ticket_is_single_use(client: HttpClient, app: object, redis: Redis) -> None:
    from web.resources import get_resources

    tokens = await signup(client, "sse@example.com")
    response = await client.post("/auth/stream-ticket", headers=bearer(tokens["access_token"]))
    assert response.status_code == 201
    body = await response.get_json()
    assert body["expires_in"] == 60
    keys = [k async for k in redis.scan_iter(match="stream_ticket:*")]
    assert len(keys) == 1
    assert body["ticket"] not in keys[0]  # stored by hash only
    assert 0 < await redis.ttl(keys[0]) <= 60

    async with app.app_context():  # type: ignore[attr-defined]
        authenticator = get_resources().services.authenticator
        principal = await authenticator.redeem_ticket(body["ticket"])
        assert principal.user_id == tokens["user"]["id"]
        with pytest.raises(Exception, match="AUTH_011"):
            await authenticator.redeem_ticket(body["ticket"])


async def test_ending_a_session_kills_its_access_token_at_once(client: HttpClient) -> None:
    phone = await signup(client, "lost@example.com")
    laptop = await login(client, "lost@example.com")
    listed = await (await client.get("/auth/sessions",
                                     headers=bearer(laptop["access_token"]))).get_json()
    phone_session = listed["items"][-1]["id"]  # oldest first login
    ended = await client.delete(f"/auth/sessions/{phone_session}",
                                headers=bearer(laptop["access_token"]))
    assert ended.status_code == 204
    lost = await client.get("/auth/me", headers=bearer(phone["access_token"]))
    assert lost.status_code == 401
    assert await _error(lost) == "AUTH_006"
    assert (await client.get("/auth/me", headers=bearer(laptop["access_token"]))).status_code \
        == 200


async def test_stream_ticket_dies_with_its_session(client: HttpClient, app: object) -> None:
    from web.resources import get_resources

    tokens = await signup(client, "sse2@example.com")
    ticket = await (await client.post("/auth/stream-ticket",
                                      headers=bearer(tokens["access_token"]))).get_json()
    await client.post("/auth/logout", headers=bearer(tokens["access_token"]), json={})
    async with app.app_context():  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="AUTH_006"):
            await get_resources().services.authenticator.redeem_ticket(ticket["ticket"])


async def test_reset_token_expires_after_30_minutes(
        timed_client: HttpClient, clock: FakeClock, settings: Settings) -> None:
    await register(timed_client, "late@example.com")
    await timed_client.post("/auth/forgot-password", json={"email": "late@example.com"})
    mails = await eventually(lambda: _outbox(settings), message="reset mail")
    token = mails[0]["body"].split("\n\n")[1].strip()
    await clock.advance(30 * 60 + 1)
    response = await timed_client.post("/auth/reset-password",
                                       json={"token": token, "new_password": "brand-new-pass"})
    assert response.status_code == 400
    assert await _error(response) == "AUTH_009"


async def test_no_reset_mail_for_a_deactivated_account(
        client: HttpClient, settings: Settings,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    body = await register(client, "off@example.com")
    await register(client, "on@example.com")
    async with sessions() as session, session.begin():
        user = await session.get(User, body["id"])
        assert user is not None
        user.is_active = False
    for email in ("off@example.com", "on@example.com"):
        response = await client.post("/auth/forgot-password", json={"email": email})
        assert response.status_code == 202
    mails = await eventually(lambda: _outbox(settings), message="reset mail")
    assert [m["to"] for m in mails] == ["on@example.com"]


async def test_authentication_fails_closed_when_redis_is_down(
        fragile_client: HttpClient,
        private_servers: tuple[EmbeddedNats, EmbeddedRedis]) -> None:
    tokens = await signup(fragile_client, "closed@example.com")
    _, redis = private_servers
    redis.stop()
    response = await fragile_client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 503
    assert await _error(response) == "SYS_004"
