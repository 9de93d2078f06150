"""Settings refuse unsafe defaults outside development."""

from __future__ import annotations

import base64
import secrets

import pytest
from pydantic import ValidationError

from core.settings import DEV_ENCRYPTION_KEYS, DEV_JWT_SECRET, Settings, parse_encryption_keys

GOOD_KEYS = "k1:" + base64.b64encode(b"k" * 32).decode()
GOOD_SECRET = secrets.token_urlsafe(48)


def test_dev_defaults_are_allowed_in_dev() -> None:
    settings = Settings(env="dev")
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert settings.embedded


@pytest.mark.parametrize("env", ["prod", "test"])
def test_dev_jwt_secret_refused_outside_dev(env: str) -> None:
    with pytest.raises(ValidationError, match="ALGO_JWT_SECRET must be set"):
        Settings(env=env, encryption_keys=GOOD_KEYS)


@pytest.mark.parametrize("env", ["prod", "test"])
def test_dev_encryption_key_refused_outside_dev(env: str) -> None:
    with pytest.raises(ValidationError, match="ALGO_ENCRYPTION_KEYS must be set"):
        Settings(env=env, jwt_secret=GOOD_SECRET)


def test_prod_with_real_secrets_starts() -> None:
    settings = Settings(env="prod", jwt_secret=GOOD_SECRET,
                        encryption_keys=GOOD_KEYS)
    assert list(settings.encryption_key_map) == ["k1"]


def test_short_jwt_secret_refused_in_prod() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(env="prod", jwt_secret="short", encryption_keys=GOOD_KEYS)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_cheap_bcrypt_only_in_tests(env: str) -> None:
    with pytest.raises(ValidationError, match="BCRYPT_ROUNDS"):
        Settings(env=env, bcrypt_rounds=4, jwt_secret=GOOD_SECRET,
                 encryption_keys=GOOD_KEYS)
    assert Settings(env="test", bcrypt_rounds=4, jwt_secret=GOOD_SECRET,
                    encryption_keys=GOOD_KEYS).bcrypt_rounds == 4


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGO_ENV", "prod")
    monkeypatch.setenv("ALGO_JWT_SECRET", GOOD_SECRET)
    monkeypatch.setenv("ALGO_ENCRYPTION_KEYS", GOOD_KEYS)
    monkeypatch.setenv("ALGO_NATS_URL", "nats://10.0.0.1:4222")
    settings = Settings()
    assert settings.env == "prod"
    assert settings.nats_url == "nats://10.0.0.1:4222"


@pytest.mark.parametrize("raw", [
    "", "nokey", "k1:not-base64!!", "k1:" + base64.b64encode(b"short").decode(),
    f"{GOOD_KEYS},{GOOD_KEYS}", "bad id:" + base64.b64encode(b"k" * 32).decode(),
])
def test_malformed_encryption_keys_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"ALGO_ENCRYPTION_KEYS|encryption key"):
        parse_encryption_keys(raw)


def test_several_keys_keep_their_order() -> None:
    second = "k2:" + base64.b64encode(b"j" * 32).decode()
    assert list(parse_encryption_keys(f"{second},{GOOD_KEYS}")) == ["k2", "k1"]
    assert parse_encryption_keys(DEV_ENCRYPTION_KEYS)["dev"] == b"dev-only-key-never-in-production"
