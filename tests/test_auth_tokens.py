"""Token verification refuses every kind of bad token."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from core.auth.tokens import TokenCodec, TokenType, key_id
from core.clock import FakeClock
from core.errors import AuthenticationFailed
from core.settings import Settings
from tests.conftest import make_settings

T0 = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


@pytest.fixture
def codec_settings(tmp_path: Path) -> Settings:
    return make_settings(None, tmp_path)


def _codec(settings: Settings, at: datetime = T0) -> tuple[TokenCodec, FakeClock]:
    clock = FakeClock(at)
    return TokenCodec(settings, clock), clock


def _code(exc: pytest.ExceptionInfo[AuthenticationFailed]) -> str:
    return exc.value.code.code


def test_round_trip_carries_every_claim(codec_settings: Settings) -> None:
    codec, _ = _codec(codec_settings)
    token, claims = codec.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {"sub", "role", "typ", "aud", "iss", "iat", "nbf", "exp", "jti", "fam"}
    assert payload["exp"] - payload["iat"] == 15 * 60
    assert jwt.get_unverified_header(token)["kid"] == key_id(
        codec_settings.jwt_secret.get_secret_value()
    )
    assert codec.verify(token, TokenType.ACCESS) == claims
    refresh, rclaims = codec.issue(
        user_id="usr_1", role="user", typ=TokenType.REFRESH, family="ses_1"
    )
    assert rclaims.exp - rclaims.iat == 7 * 24 * 3600
    assert codec.verify(refresh, TokenType.REFRESH).fam == "ses_1"


async def test_expired(codec_settings: Settings) -> None:
    codec, clock = _codec(codec_settings)
    token, _ = codec.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
    await clock.advance(15 * 60 + 10)
    with pytest.raises(AuthenticationFailed) as exc:
        codec.verify(token, TokenType.ACCESS)
    assert _code(exc) == "AUTH_004"


def test_not_yet_valid(codec_settings: Settings) -> None:
    future, _ = _codec(codec_settings, T0 + timedelta(hours=1))
    token, _ = future.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
    now, _ = _codec(codec_settings)
    with pytest.raises(AuthenticationFailed, match="AUTH_005") as exc:
        now.verify(token, TokenType.ACCESS)
    assert exc.value.details == {}  # which check failed is not told to the caller


def test_wrong_audience_and_issuer(codec_settings: Settings) -> None:
    mine, _ = _codec(codec_settings)
    for other in (
        codec_settings.model_copy(update={"jwt_audience": "other-api"}),
        codec_settings.model_copy(update={"jwt_issuer": "someone-else"}),
    ):
        theirs, _ = _codec(other)
        token, _ = theirs.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
        with pytest.raises(AuthenticationFailed, match="AUTH_005"):
            mine.verify(token, TokenType.ACCESS)


def test_refresh_token_is_not_an_access_token(codec_settings: Settings) -> None:
    codec, _ = _codec(codec_settings)
    refresh, _ = codec.issue(user_id="usr_1", role="user", typ=TokenType.REFRESH, family="ses_1")
    with pytest.raises(AuthenticationFailed, match="AUTH_005"):
        codec.verify(refresh, TokenType.ACCESS)
    access, _ = codec.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
    with pytest.raises(AuthenticationFailed, match="AUTH_005"):
        codec.verify(access, TokenType.REFRESH)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_and_other_algorithms_refused(codec_settings: Settings) -> None:
    codec, _ = _codec(codec_settings)
    token, _ = codec.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
    payload = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(payload)}."
    with pytest.raises(AuthenticationFailed, match="AUTH_005"):
        codec.verify(unsigned, TokenType.ACCESS)
    hs512 = jwt.encode(
        payload,
        codec_settings.jwt_secret.get_secret_value(),
        algorithm="HS512",
        headers={"kid": kid},
    )
    with pytest.raises(AuthenticationFailed, match="AUTH_005"):
        codec.verify(hs512, TokenType.ACCESS)


def test_tampered_payload_refused(codec_settings: Settings) -> None:
    codec, _ = _codec(codec_settings)
    token, _ = codec.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["role"] = "admin"
    with pytest.raises(AuthenticationFailed, match="AUTH_005"):
        codec.verify(f"{header}.{_b64(claims)}.{signature}", TokenType.ACCESS)
    for garbage in ("", "abc", "a.b.c", token[:-4] + "AAAA"):
        with pytest.raises(AuthenticationFailed, match="AUTH_005"):
            codec.verify(garbage, TokenType.ACCESS)


def test_key_rotation_by_kid(codec_settings: Settings) -> None:
    old_secret = codec_settings.jwt_secret.get_secret_value()
    old, _ = _codec(codec_settings)
    token, _ = old.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
    new_secret = "n" * 48
    rotated, _ = _codec(
        codec_settings.model_copy(
            update={
                "jwt_secret": type(codec_settings.jwt_secret)(new_secret),
                "jwt_previous_secrets": type(codec_settings.jwt_secret)(old_secret),
            }
        )
    )
    assert rotated.verify(token, TokenType.ACCESS).sub == "usr_1"
    fresh, _ = rotated.issue(user_id="usr_1", role="user", typ=TokenType.ACCESS, family="ses_1")
    assert jwt.get_unverified_header(fresh)["kid"] == key_id(new_secret)
    forgotten, _ = _codec(
        codec_settings.model_copy(
            update={"jwt_secret": type(codec_settings.jwt_secret)(new_secret)}
        )
    )
    with pytest.raises(AuthenticationFailed, match="AUTH_005"):
        forgotten.verify(token, TokenType.ACCESS)
