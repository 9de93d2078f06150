"""Builders for the Angel One adapter tests: a broker at the fake SmartAPI."""

from __future__ import annotations

from datetime import datetime

from brokers.angel_one import AngelConfig, AngelCredentials, AngelOneBroker
from brokers.angel_one.auth import AngelSession
from brokers.angel_one.instruments import AngelInstruments
from core.clock import Clock, RealClock
from tests.adapter_kit import READ_TIMEOUT_S, TICKER_BACKOFF, expiry, timeouts
from tests.fakes.angel import AngelFake


def config_for(fake: AngelFake, *, read_s: float = READ_TIMEOUT_S) -> AngelConfig:
    """Adapter configuration pointing at the fake."""
    return AngelConfig(api_url=fake.api_url, ws_url=fake.ws_url,
                       instruments_url=fake.master_url,
                       timeouts=timeouts(read_s), ticker_backoff=TICKER_BACKOFF)


def session_at(fake: AngelFake, *, expires_at: datetime | None = None) -> AngelSession:
    """A live session at the fake (as if a login had made it)."""
    tokens = fake.book.issue_session()
    return AngelSession(jwt_token=tokens["jwtToken"], refresh_token=tokens["refreshToken"],
                        feed_token=tokens["feedToken"],
                        expires_at=expiry(expires_at, hours=20))


def credentials(fake: AngelFake, *, session: AngelSession | None = None,
                can_login: bool = True) -> AngelCredentials:
    """The account's credentials at the fake: PIN and TOTP secret unless `can_login` is
    False, and the given session."""
    return AngelCredentials(api_key=fake.book.api_key, client_code=fake.book.client_code,
                            pin=fake.book.pin if can_login else None,
                            totp_secret=fake.book.totp_secret if can_login else None,
                            session=session)


def broker_for(fake: AngelFake, creds: AngelCredentials | None = None, *,
               clock: Clock | None = None, instruments: AngelInstruments | None = None,
               **kwargs: object) -> AngelOneBroker:
    """An AngelOneBroker on the fake (logging in by itself on first use by default)."""
    clock = clock or RealClock()
    return AngelOneBroker("angel_one:brk_test", creds or credentials(fake),
                          config_for(fake), instruments or AngelInstruments(clock), clock,
                          **kwargs)  # type: ignore[arg-type]
