"""JWTs (PyJWT, HS256 only): issue and verify access and refresh tokens (DESIGN §7).

Time checks use our `Clock`, not PyJWT's, so tests can move time; the signature,
audience and issuer are PyJWT's. Every token names its key with `kid`, so the secret can
rotate: the current secret signs, retired ones (ALGO_JWT_PREVIOUS_SECRETS) still verify.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import jwt

from core import error_codes
from core.clock import Clock
from core.errors import AuthenticationFailed
from core.ids import new_id
from core.settings import Settings

log = logging.getLogger("algo.auth.tokens")

ALGORITHMS: Final = ["HS256"]
LEEWAY_S: Final = 5
_REQUIRED: Final = ["sub", "role", "typ", "aud", "iss", "iat", "nbf", "exp", "jti", "fam"]


class TokenType(StrEnum):
    """What a token may be used for."""

    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified content of a token."""

    sub: str
    role: str
    typ: TokenType
    jti: str
    iat: int
    exp: int
    fam: str
    """The session (refresh-token family, one login) the token belongs to; ending the
    session kills its access tokens too."""


def key_id(secret: str) -> str:
    """A public, stable name for a secret (never the secret itself)."""
    return "k" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def _invalid(reason: str) -> AuthenticationFailed:
    # The reason is for our logs only: telling a forger which check failed helps them.
    log.info("token refused: %s", reason)
    return AuthenticationFailed(code=error_codes.AUTH_TOKEN_INVALID)


class TokenCodec:
    """Signs and verifies tokens with the configured keys."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._clock = clock
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        current = settings.jwt_secret.get_secret_value()
        self._signing_kid = key_id(current)
        self._keys = {key_id(s): s for s in [current, *settings.previous_jwt_secrets]}
        self.ttl = {TokenType.ACCESS: settings.access_token_ttl_s,
                    TokenType.REFRESH: settings.refresh_token_ttl_s}

    def issue(self, *, user_id: str, role: str, typ: TokenType,
              family: str) -> tuple[str, Claims]:
        """A signed token and its claims."""
        now = int(self._clock.now().timestamp())
        claims = Claims(sub=user_id, role=role, typ=typ,
                        jti=new_id("rtk") if typ is TokenType.REFRESH else new_id("req"),
                        iat=now, exp=now + self.ttl[typ], fam=family)
        payload: dict[str, Any] = {
            "sub": claims.sub, "role": claims.role, "typ": claims.typ.value,
            "aud": self._audience, "iss": self._issuer, "iat": now, "nbf": now,
            "exp": claims.exp, "jti": claims.jti, "fam": family,
        }
        token = jwt.encode(payload, self._keys[self._signing_kid], algorithm="HS256",
                           headers={"kid": self._signing_kid})
        return token, claims

    def verify(self, token: str, expected: TokenType) -> Claims:
        """Verify signature, key, audience, issuer, type and time; raise AuthenticationFailed."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid("malformed") from exc
        if header.get("alg") not in ALGORITHMS:
            raise _invalid("algorithm not allowed")
        secret = self._keys.get(str(header.get("kid")))
        if secret is None:
            raise _invalid("unknown key")
        try:
            payload = jwt.decode(
                token, secret, algorithms=ALGORITHMS, audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED, "verify_exp": False, "verify_nbf": False,
                         "verify_iat": False},
            )
        except jwt.InvalidAudienceError as exc:
            raise _invalid("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise _invalid("wrong issuer") from exc
        except jwt.PyJWTError as exc:
            raise _invalid("signature or claims") from exc
        now = self._clock.now().timestamp()
        try:
            exp, nbf, iat = int(payload["exp"]), int(payload["nbf"]), int(payload["iat"])
        except (TypeError, ValueError) as exc:
            raise _invalid("time claims") from exc
        if now >= exp + LEEWAY_S:
            raise AuthenticationFailed(code=error_codes.AUTH_TOKEN_EXPIRED)
        if now + LEEWAY_S < nbf or now + LEEWAY_S < iat:
            raise _invalid("not yet valid")
        if payload["typ"] != expected.value:
            raise _invalid(f"expected an {expected.value} token")
        fam = payload.get("fam")
        if not isinstance(fam, str):
            raise _invalid("no session")
        return Claims(sub=str(payload["sub"]), role=str(payload["role"]), typ=expected,
                      jti=str(payload["jti"]), iat=iat, exp=exp, fam=fam)


def token_hash(token: str) -> str:
    """SHA-256 of a token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()
