"""Fyers API v3 login: the auth-code exchange, the Authorization header, token expiry.

Flow (PyPI fyers-apiv3 3.2.0, fyers_apiv3/fyersModel.py `SessionModel.generate_authcode`,
`get_hash`, `generate_token`; Fyers API v3 docs "Authentication & Login Flow"):
the user logs in at `{api}/api/v3/generate-authcode?client_id=..&redirect_uri=..&
response_type=code&state=..`; Fyers redirects back with `auth_code`; we POST JSON
`{"grant_type": "authorization_code", "appIdHash": sha256_hex(f"{app_id}:{secret}"),
"code": auth_code}` to /api/v3/validate-authcode without an Authorization header. The
app id keeps its "-100" suffix inside the hash, joined to the secret by a colon.
Every later call sends `Authorization: {app_id}:{access_token}` (no scheme) and
`version: 3` (fyersModel.py `FyersServiceSync.get_call` / `post_call`).

The access token is a JWT; its payload carries `exp` (when it dies) and `hsm_key` (the
market-data socket's credential; fyers_apiv3/FyersWebsocket/data_ws.py
`access_token_to_hsmtoken`). The sample token in the docs is issued 16:36 IST and
expires 06:00 IST the next morning; when a token has no readable `exp` we assume that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from core.clock import IST

FYERS_VERSION: Final = "3"
TOKEN_ROLLOVER: Final = time(6, 0)
"""When an access token without a readable `exp` is assumed to die (IST)."""


def app_id_hash(app_id: str, secret: str) -> str:
    """`appIdHash`: sha256 hex of "app_id:secret" (the app id with its -100 suffix)."""
    return hashlib.sha256(f"{app_id}:{secret}".encode()).hexdigest()


def authorization(app_id: str, access_token: str) -> str:
    """The Authorization header value of an authenticated call."""
    return f"{app_id}:{access_token}"


def login_url(api_url: str, app_id: str, redirect_uri: str, state: str) -> str:
    """Where the user logs in to Fyers to hand us an auth code."""
    query = urlencode({"client_id": app_id, "redirect_uri": redirect_uri,
                       "response_type": "code", "state": state})
    return f"{api_url.rstrip('/')}/api/v3/generate-authcode?{query}"


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified ({} when it is not one): Fyers signs it, we only
    read when it expires and its hsm_key."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def hsm_key(token: str) -> str | None:
    """The data socket's credential inside an access token."""
    value = claims(token).get("hsm_key")
    return value if isinstance(value, str) and value else None


def token_expiry(token: str, issued_at: datetime) -> datetime:
    """When an access token dies: its `exp` claim, else the next 06:00 IST after issue."""
    exp = claims(token).get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp > 0:
        return datetime.fromtimestamp(exp, UTC)
    local = issued_at.astimezone(IST)
    rollover = datetime.combine(local.date(), TOKEN_ROLLOVER, IST)
    return rollover if local < rollover else rollover + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class FyersSession:
    """What a login yields and the credential store keeps."""

    app_id: str
    access_token: str
    refresh_token: str | None
    issued_at: datetime
    expires_at: datetime
