"""Builders for the Fyers adapter tests: a broker logged in to the fake Fyers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brokers.common.http import Timeouts
from brokers.common.ws import Backoff
from brokers.fyers import FyersBroker, FyersConfig, FyersCredentials
from brokers.fyers.instruments import FyersInstruments
from core.clock import Clock, RealClock
from tests.fakes.fyers import FyersFake

READ_TIMEOUT_S = 0.5
"""Short, so an accept-then-timeout test does not wait long."""


def config_for(fake: FyersFake, *, read_s: float = READ_TIMEOUT_S) -> FyersConfig:
    """Adapter configuration pointing at the fake."""
    return FyersConfig(api_url=fake.api_url, ws_url=fake.ws_url, symbols_url=fake.symbols_url,
                       timeouts=Timeouts(connect_s=1.0, read_s=read_s, write_s=1.0,
                                         pool_s=1.0),
                       ticker_backoff=Backoff(initial_s=0.05, max_s=0.2))


def logged_in(fake: FyersFake, *, token: str | None = None,
              expires_at: datetime | None = None) -> FyersCredentials:
    """A live session at the fake, valid for a day (or until `expires_at`)."""
    return FyersCredentials(app_id=fake.book.app_id,
                            access_token=token or fake.book.issue_access_token(),
                            expires_at=expires_at or datetime.now(UTC) + timedelta(days=1))


def broker_for(fake: FyersFake, credentials: FyersCredentials | None = None, *,
               clock: Clock | None = None, instruments: FyersInstruments | None = None,
               **kwargs: object) -> FyersBroker:
    """A FyersBroker on the fake."""
    clock = clock or RealClock()
    return FyersBroker("fyers:brk_test", credentials or logged_in(fake), config_for(fake),
                       instruments or FyersInstruments(clock), clock,
                       **kwargs)  # type: ignore[arg-type]
