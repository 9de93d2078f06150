"""SmartAPI login: client code + PIN + TOTP, the headers of every call, session expiry.

Flow (angel-one/smartapi-python @ff60852 SmartApi/smartConnect.py `generateSession`,
`requestHeaders`, `_request`): POST /rest/auth/angelbroking/user/v1/loginByPassword with
JSON `{"clientcode", "password": <PIN>, "totp"}` answers `data.jwtToken`, `refreshToken`
and `feedToken`. Every call carries `X-PrivateKey: {api_key}`, `X-UserType: USER`,
`X-SourceID: WEB`, `X-ClientLocalIP`, `X-ClientPublicIP`, `X-MACAddress`, JSON content
and accept types, and after login `Authorization: Bearer {jwtToken}`. The TOTP is plain
RFC 6238 (SHA-1, 6 digits, 30 s) from the secret behind the QR code Angel shows when TOTP
is enabled (the SDK README uses `pyotp.TOTP(secret).now()`).

A session lives at most 28 h after login (SmartAPI docs, "User"); the jwtToken is a JWT
whose `exp` claim, when present, is taken if it is earlier.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import pyotp

SESSION_MAX: Final = timedelta(hours=28)


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The device fields Angel wants on every call (the SDK sends fixed values too)."""

    local_ip: str = "127.0.0.1"
    public_ip: str = "127.0.0.1"
    mac_address: str = "00:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class AngelSession:
    """The three tokens a login yields, and when they die."""

    jwt_token: str
    refresh_token: str
    feed_token: str
    expires_at: datetime

    def to_json(self) -> str:
        """The session as stored (sealed) in the credential row."""
        return json.dumps({"jwt_token": self.jwt_token, "refresh_token": self.refresh_token,
                           "feed_token": self.feed_token,
                           "expires_at": self.expires_at.isoformat()})

    @classmethod
    def from_json(cls, raw: str) -> AngelSession:
        """A stored session; ValueError if it is not one."""
        try:
            data = json.loads(raw)
            return cls(jwt_token=str(data["jwt_token"]),
                       refresh_token=str(data["refresh_token"]),
                       feed_token=str(data["feed_token"]),
                       expires_at=datetime.fromisoformat(data["expires_at"]))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a stored Angel session: {exc}") from exc


def totp(secret: str, at: datetime | None = None) -> str:
    """The 6-digit RFC 6238 code of `secret` (base32) at `at`, by default now on the wall
    clock: the code must match Angel's clock, never an injected test clock."""
    return pyotp.TOTP(secret).at(at or datetime.now(UTC))


def bare_jwt(token: str) -> str:
    """A jwtToken without the "Bearer " prefix `generateSession()` puts in front of it."""
    return token.removeprefix("Bearer ").strip()


def headers(api_key: str, identity: ClientIdentity, jwt_token: str | None) -> dict[str, str]:
    """The headers of one call (Authorization only once logged in)."""
    out = {"Content-Type": "application/json", "Accept": "application/json",
           "X-UserType": "USER", "X-SourceID": "WEB",
           "X-ClientLocalIP": identity.local_ip, "X-ClientPublicIP": identity.public_ip,
           "X-MACAddress": identity.mac_address, "X-PrivateKey": api_key}
    if jwt_token:
        out["Authorization"] = f"Bearer {bare_jwt(jwt_token)}"
    return out


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT (not verified: only Angel can), None when it has none."""
    parts = bare_jwt(token).split(".")
    if len(parts) != 3:
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
        return None


def session_expiry(login_at: datetime, jwt_token: str) -> datetime:
    """When a session made at `login_at` dies: 28 h later, or the JWT's `exp` if sooner."""
    limit = login_at + SESSION_MAX
    claimed = jwt_expiry(jwt_token)
    return limit if claimed is None else min(limit, claimed)
