"""Builders for the Dhan adapter tests: a broker logged in to the fake Dhan."""

from __future__ import annotations

from datetime import datetime

from brokers.dhan import DhanBroker, DhanConfig, DhanCredentials
from brokers.dhan.instruments import DhanInstruments
from core.clock import Clock, RealClock
from tests.adapter_kit import READ_TIMEOUT_S, TICKER_BACKOFF, expiry, timeouts
from tests.fakes.dhan import DhanFake


def config_for(fake: DhanFake, *, read_s: float = READ_TIMEOUT_S) -> DhanConfig:
    """Adapter configuration pointing at the fake."""
    return DhanConfig(api_url=fake.api_url, auth_url=fake.auth_url, ws_url=fake.ws_url,
                      scrip_master_url=fake.scrip_master_url,
                      timeouts=timeouts(read_s), ticker_backoff=TICKER_BACKOFF)


def logged_in(fake: DhanFake, *, token: str | None = None,
              expires_at: datetime | None = None) -> DhanCredentials:
    """A live session at the fake, valid for a day (or until `expires_at`)."""
    return DhanCredentials(client_id=fake.book.client_id,
                           access_token=token or fake.book.issue_access_token(),
                           expires_at=expiry(expires_at))


def broker_for(fake: DhanFake, credentials: DhanCredentials | None = None, *,
               clock: Clock | None = None, instruments: DhanInstruments | None = None,
               **kwargs: object) -> DhanBroker:
    """A DhanBroker on the fake."""
    clock = clock or RealClock()
    return DhanBroker("dhan:brk_test", credentials or logged_in(fake), config_for(fake),
                      instruments or DhanInstruments(clock), clock,
                      **kwargs)  # type: ignore[arg-type]
