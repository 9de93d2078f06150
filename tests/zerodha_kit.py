"""Builders for the Zerodha adapter tests: a broker logged in to the fake Kite."""

from __future__ import annotations

from datetime import datetime

from brokers.zerodha import KiteConfig, KiteCredentials, ZerodhaBroker
from brokers.zerodha.instruments import KiteInstruments
from core.clock import Clock, RealClock
from tests.adapter_kit import READ_TIMEOUT_S, TICKER_BACKOFF, expiry, timeouts
from tests.fakes.kite import KiteFake


def config_for(fake: KiteFake, *, read_s: float = READ_TIMEOUT_S) -> KiteConfig:
    """Adapter configuration pointing at the fake."""
    return KiteConfig(api_url=fake.api_url, ws_url=fake.ws_url,
                      timeouts=timeouts(read_s), ticker_backoff=TICKER_BACKOFF)


def logged_in(fake: KiteFake, *, token: str | None = None,
              expires_at: datetime | None = None) -> KiteCredentials:
    """A live session at the fake, valid for a day (or until `expires_at`)."""
    return KiteCredentials(api_key=fake.book.api_key,
                           access_token=token or fake.book.issue_access_token(),
                           expires_at=expiry(expires_at))


def broker_for(fake: KiteFake, credentials: KiteCredentials | None = None, *,
               clock: Clock | None = None, instruments: KiteInstruments | None = None,
               **kwargs: object) -> ZerodhaBroker:
    """A ZerodhaBroker on the fake."""
    clock = clock or RealClock()
    return ZerodhaBroker("zerodha:brk_test", credentials or logged_in(fake), config_for(fake),
                         instruments or KiteInstruments(clock), clock,
                         **kwargs)  # type: ignore[arg-type]
