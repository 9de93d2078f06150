"""Builders for the Fyers adapter tests: a broker logged in to the fake Fyers."""

from __future__ import annotations

from datetime import datetime

from brokers.fyers import FyersBroker, FyersConfig, FyersCredentials
from brokers.fyers.instruments import FyersInstruments
from core.clock import Clock, RealClock
from tests.adapter_kit import READ_TIMEOUT_S, TICKER_BACKOFF, expiry, timeouts
from tests.fakes.fyers import FyersFake


def config_for(fake: FyersFake, *, read_s: float = READ_TIMEOUT_S) -> FyersConfig:
    """Adapter configuration pointing at the fake."""
    return FyersConfig(api_url=fake.api_url, ws_url=fake.ws_url, symbols_url=fake.symbols_url,
                       timeouts=timeouts(read_s), ticker_backoff=TICKER_BACKOFF)


def logged_in(fake: FyersFake, *, token: str | None = None,
              expires_at: datetime | None = None) -> FyersCredentials:
    """A live session at the fake, valid for a day (or until `expires_at`)."""
    return FyersCredentials(app_id=fake.book.app_id,
                            access_token=token or fake.book.issue_access_token(),
                            expires_at=expiry(expires_at))


def broker_for(fake: FyersFake, credentials: FyersCredentials | None = None, *,
               clock: Clock | None = None, instruments: FyersInstruments | None = None,
               **kwargs: object) -> FyersBroker:
    """A FyersBroker on the fake."""
    clock = clock or RealClock()
    return FyersBroker("fyers:brk_test", credentials or logged_in(fake), config_for(fake),
                       instruments or FyersInstruments(clock), clock,
                       **kwargs)  # type: ignore[arg-type]
