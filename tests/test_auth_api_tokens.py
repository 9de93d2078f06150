"""Bad access tokens presented to the running app (time moved with a fake clock)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
from quart.typing import TestClientProtocol as HttpClient

from core.auth.tokens import TokenCodec, TokenType
from core.clock import FakeClock
from core.settings import Settings
from tests.stubs import bearer, signup


async def _code(client: HttpClient, token: str) -> tuple[int, str]:
    response = await client.get("/auth/me", headers=bearer(token))
    return response.status_code, (await response.get_json())["error_code"]


async def test_expired_access_token(timed_client: HttpClient, clock: FakeClock) -> None:
    tokens = await signup(timed_client, "t@example.com")
    assert (
        await timed_client.get("/auth/me", headers=bearer(tokens["access_token"]))
    ).status_code == 200
    await clock.advance(15 * 60 + 10)
    assert await _code(timed_client, tokens["access_token"]) == (401, "AUTH_004")
    # The refresh token still works and yields a fresh access token.
    refreshed = await timed_client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200


async def test_expired_refresh_token(timed_client: HttpClient, clock: FakeClock) -> None:
    tokens = await signup(timed_client, "t@example.com")
    await clock.advance(7 * 24 * 3600 + 10)
    response = await timed_client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 401
    assert (await response.get_json())["error_code"] == "AUTH_004"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_tokens(
    timed_client: HttpClient, settings: Settings, clock: FakeClock
) -> None:
    tokens = await signup(timed_client, "t@example.com")
    good = tokens["access_token"]
    claims = jwt.decode(good, options={"verify_signature": False})
    header = jwt.get_unverified_header(good)

    future = TokenCodec(settings, FakeClock(clock.now() + timedelta(hours=1)))
    not_yet, _ = future.issue(
        user_id=claims["sub"], role="user", typ=TokenType.ACCESS, family="ses_1"
    )
    other_aud = TokenCodec(settings.model_copy(update={"jwt_audience": "elsewhere"}), clock)
    wrong_aud, _ = other_aud.issue(
        user_id=claims["sub"], role="user", typ=TokenType.ACCESS, family="ses_1"
    )
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{_b64(claims)}."
    escalated = dict(claims, role="admin", sub="usr_someone_else")
    tampered = f"{good.split('.')[0]}.{_b64(escalated)}.{good.split('.')[2]}"
    wrong_key = jwt.encode(
        claims,
        "an-attacker-secret-of-sufficient-length!!",
        algorithm="HS256",
        headers={"kid": header["kid"]},
    )

    for token in (not_yet, wrong_aud, unsigned, tampered, wrong_key, tokens["refresh_token"]):
        assert await _code(timed_client, token) == (401, "AUTH_005")
