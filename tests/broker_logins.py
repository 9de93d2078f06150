"""How each broker's connect flow is driven against its fake (tests/test_broker_api.py):
what the user sends to /broker/connect, where the broker sends the browser back, how every
session dies, and which secrets and tokens must never show in a response or log line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pyotp

from tests.fakes.angel.kit import AngelKit
from tests.fakes.contract import FakeKit
from tests.fakes.dhan.kit import DhanKit
from tests.fakes.fyers.kit import FyersKit
from tests.fakes.kite.kit import KiteKit

KITE_LOGIN_BASE = "https://kite.example/connect/login"
FYERS_REDIRECT = "https://algo.example/broker/callback/fyers"


class BrokerLogin(Protocol):
    """One broker's side of the connect-flow tests."""

    broker_type: str
    browser: bool
    """True when /broker/connect answers a login link and the callback finishes it."""

    @property
    def account_id(self) -> str:
        """The broker's id of the fake's account."""
        ...

    def settings(self) -> dict[str, Any]:
        """Settings pointing the app at the fake."""
        ...

    def secrets(self) -> dict[str, str]:
        """What the user sends as `credentials`."""
        ...

    def wrong_secrets(self) -> dict[str, str]:
        """Credentials the broker refuses."""
        ...

    def code(self) -> str | None:
        """A fresh code of the broker's redirect, sent with /broker/connect or /validate
        (None for a direct login)."""
        ...

    def redirect(self, login_url: str) -> dict[str, str]:
        """The query the broker sends the browser back to our callback with."""
        ...

    def end_sessions(self) -> None:
        """The broker forgets every session (the user logged out everywhere)."""
        ...

    def issued(self) -> set[str]:
        """Every secret, code and token of the account, the fake's and the user's."""
        ...

    async def stop(self) -> None:
        """The broker goes away (its fake stops answering)."""
        ...


@dataclass
class KiteLogin:
    """Kite: browser login; the state travels in `redirect_params`."""

    kit: KiteKit
    broker_type: str = "zerodha"
    browser: bool = True
    gone: set[str] = field(default_factory=set)

    @property
    def account_id(self) -> str:
        return self.kit.fake.book.user_id

    def settings(self) -> dict[str, Any]:
        return {**self.kit.settings(), "kite_login_url": KITE_LOGIN_BASE}

    def secrets(self) -> dict[str, str]:
        book = self.kit.fake.book
        return {"api_key": book.api_key, "api_secret": book.api_secret}

    def wrong_secrets(self) -> dict[str, str]:
        return {**self.secrets(), "api_secret": "wrong-secret-x"}

    def code(self) -> str | None:
        token = self.kit.fake.book.issue_request_token()
        self.gone.add(token)
        return token

    def redirect(self, login_url: str) -> dict[str, str]:
        params = parse_qs(parse_qs(urlsplit(login_url).query)["redirect_params"][0])
        return {"request_token": self.code() or "", "action": "login", "status": "success",
                "state": params["state"][0]}

    def end_sessions(self) -> None:
        self.gone |= set(self.kit.fake.book.access_tokens)
        self.kit.fake.book.access_tokens.clear()

    def issued(self) -> set[str]:
        book = self.kit.fake.book
        checksums = {r.form.get("checksum", "") for r in book.requests} - {""}
        return {book.api_secret, *book.access_tokens, *checksums, *self.gone}

    async def stop(self) -> None:
        await self.kit.fake.stop()


@dataclass
class FyersLogin:
    """Fyers: browser login; `s=ok&code=200&auth_code=..&state=..` comes back."""

    kit: FyersKit
    broker_type: str = "fyers"
    browser: bool = True
    gone: set[str] = field(default_factory=set)

    @property
    def account_id(self) -> str:
        return self.kit.fake.book.fy_id

    def settings(self) -> dict[str, Any]:
        return {**self.kit.settings(), "fyers_redirect_url": FYERS_REDIRECT}

    def secrets(self) -> dict[str, str]:
        book = self.kit.fake.book
        return {"api_key": book.app_id, "api_secret": book.secret}

    def wrong_secrets(self) -> dict[str, str]:
        return {**self.secrets(), "api_secret": "wrong-secret-x"}

    def code(self) -> str | None:
        code = self.kit.fake.book.issue_auth_code()
        self.gone.add(code)
        return code

    def redirect(self, login_url: str) -> dict[str, str]:
        query = parse_qs(urlsplit(login_url).query)
        assert query["redirect_uri"] == [FYERS_REDIRECT], query
        assert query["client_id"] == [self.kit.fake.book.app_id]
        return {"s": "ok", "code": "200", "auth_code": self.code() or "",
                "state": query["state"][0]}

    def end_sessions(self) -> None:
        self.gone |= set(self.kit.fake.book.access_tokens)
        self.kit.fake.book.access_tokens.clear()

    def issued(self) -> set[str]:
        book = self.kit.fake.book
        return {book.secret, book.app_id_hash(), *book.access_tokens, *book.refresh_tokens,
                *self.gone}

    async def stop(self) -> None:
        await self.kit.fake.stop()


@dataclass
class DhanLogin:
    """Dhan: direct login with the PIN and a TOTP (route 2 of brokers/dhan/auth.py)."""

    kit: DhanKit
    broker_type: str = "dhan"
    browser: bool = False

    @property
    def account_id(self) -> str:
        return self.kit.fake.book.client_id

    def settings(self) -> dict[str, Any]:
        return self.kit.settings()

    def secrets(self) -> dict[str, str]:
        book = self.kit.fake.book
        return {"client_id": book.client_id, "pin": book.pin, "totp_secret": book.totp_secret}

    def wrong_secrets(self) -> dict[str, str]:
        return {**self.secrets(), "totp_secret": pyotp.random_base32()}

    def code(self) -> str | None:
        return None

    def redirect(self, login_url: str) -> dict[str, str]:
        raise AssertionError("Dhan has no browser login")

    def end_sessions(self) -> None:
        book = self.kit.fake.book
        for token in list(book.access_tokens):
            book.expire(token)

    def issued(self) -> set[str]:
        book = self.kit.fake.book
        codes = {r.query.get("totp", "") for r in book.requests} - {""}
        return {book.pin, book.totp_secret, *book.access_tokens, *book.expired_tokens, *codes}

    async def stop(self) -> None:
        await self.kit.fake.stop()


@dataclass
class AngelLogin:
    """Angel One: direct login with the client code, PIN and TOTP."""

    kit: AngelKit
    broker_type: str = "angel_one"
    browser: bool = False
    gone: set[str] = field(default_factory=set)

    @property
    def account_id(self) -> str:
        return self.kit.fake.book.client_code

    def settings(self) -> dict[str, Any]:
        return self.kit.settings()

    def secrets(self) -> dict[str, str]:
        book = self.kit.fake.book
        return {"api_key": book.api_key, "client_id": book.client_code, "pin": book.pin,
                "totp_secret": book.totp_secret}

    def wrong_secrets(self) -> dict[str, str]:
        return {**self.secrets(), "pin": "9999"}

    def code(self) -> str | None:
        return None

    def redirect(self, login_url: str) -> dict[str, str]:
        raise AssertionError("Angel One has no browser login")

    def end_sessions(self) -> None:
        self.gone |= self.kit.fake.book.jwts
        self.kit.fake.book.jwts.clear()

    def issued(self) -> set[str]:
        book = self.kit.fake.book
        codes = {str(r.body.get("totp", "")) for r in book.requests} - {""}
        return {book.pin, book.totp_secret, *book.jwts, *book.refresh_tokens,
                *book.feed_tokens, *codes, *self.gone}

    async def stop(self) -> None:
        await self.kit.fake.stop()


def login_for(kit: FakeKit) -> BrokerLogin:
    """The connect-flow driver of a running kit."""
    if isinstance(kit, KiteKit):
        return KiteLogin(kit)
    if isinstance(kit, FyersKit):
        return FyersLogin(kit)
    if isinstance(kit, DhanKit):
        return DhanLogin(kit)
    assert isinstance(kit, AngelKit), kit
    return AngelLogin(kit)
