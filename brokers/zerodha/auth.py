"""Kite Connect login: the request-token exchange, the Authorization header, token expiry.

Flow (zerodha/pykiteconnect kiteconnect/connect.py `login_url`, `generate_session`):
the user logs in at `{login_url}?api_key=...&v=3`; Kite redirects to the app with
`request_token`; we POST /session/token (form: api_key, request_token, checksum) where
checksum = sha256 hex of api_key + request_token + api_secret, plainly concatenated. Every
later call sends `Authorization: token {api_key}:{access_token}` and `X-Kite-Version: 3`.
An access token lives until about 06:00 IST the next morning (or a logout).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from urllib.parse import urlencode

from core.clock import IST

KITE_VERSION: Final = "3"
TOKEN_ROLLOVER: Final = time(6, 0)
"""Kite access tokens die at this IST time of day."""


def checksum(api_key: str, request_token: str, api_secret: str) -> str:
    """The /session/token checksum: sha256(api_key + request_token + api_secret), hex."""
    return hashlib.sha256((api_key + request_token + api_secret).encode()).hexdigest()


def authorization(api_key: str, access_token: str) -> str:
    """The Authorization header value of an authenticated call."""
    return f"token {api_key}:{access_token}"


def login_url(base: str, api_key: str, state: str | None = None) -> str:
    """Where the user logs in to Kite to hand us a request token. Kite appends the
    url-encoded `redirect_params` to its redirect, which is how `state` comes back
    (Zerodha on kite.trade forum, discussion comment 21101)."""
    params = {"api_key": api_key, "v": KITE_VERSION}
    if state is not None:
        params["redirect_params"] = urlencode({"state": state})
    return f"{base}?{urlencode(params)}"


def token_expiry(login_at: datetime) -> datetime:
    """When a token issued at `login_at` dies: the next 06:00 IST after it."""
    local = login_at.astimezone(IST)
    rollover = datetime.combine(local.date(), TOKEN_ROLLOVER, IST)
    return rollover if local < rollover else rollover + timedelta(days=1)


def parse_login_time(raw: str | None, fallback: datetime) -> datetime:
    """Kite's "YYYY-MM-DD HH:MM:SS" (IST) as an aware datetime; `fallback` if absent/odd."""
    if not raw:
        return fallback
    try:
        return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=IST)
    except ValueError:
        return fallback


@dataclass(frozen=True, slots=True)
class KiteSession:
    """What a login yields and the credential store keeps."""

    api_key: str
    access_token: str
    user_id: str
    user_name: str | None
    login_at: datetime
    expires_at: datetime
