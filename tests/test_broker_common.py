"""Pieces shared by the real broker adapters: sealed secrets, pacing, the instrument
store, the reconnect backoff."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest

from brokers.common.instruments import InstrumentStore
from brokers.common.throttle import Throttle
from brokers.common.ws import Backoff
from brokers.errors import InstrumentMasterInvalid
from core.crypto import SecretBox, SecretUnreadable
from core.ratelimit import Rate


def key() -> bytes:
    """A random AES-256 key."""
    return os.urandom(32)


def test_a_secret_opens_only_for_its_owner_and_under_any_configured_key() -> None:
    old = SecretBox({"k1": (k1 := key())})
    sealed = old.seal("access-token", owner="usr_a")
    assert sealed.startswith(b"k1:")
    assert b"access-token" not in sealed
    assert old.open(sealed, owner="usr_a") == "access-token"
    with pytest.raises(SecretUnreadable):
        old.open(sealed, owner="usr_b")  # moved to another user's row
    rotated = SecretBox({"k2": key(), "k1": k1})
    assert rotated.current_key_id == "k2"
    assert rotated.open(sealed, owner="usr_a") == "access-token"
    assert rotated.seal("x", owner="usr_a").startswith(b"k2:")
    with pytest.raises(SecretUnreadable):
        SecretBox({"k2": key()}).open(sealed, owner="usr_a")  # key retired
    with pytest.raises(SecretUnreadable):
        old.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), owner="usr_a")  # tampered


def test_settings_keys_work_with_the_box() -> None:
    from core.settings import parse_encryption_keys
    keys = parse_encryption_keys("a1:" + base64.b64encode(key()).decode())
    box = SecretBox(keys)
    assert box.open(box.seal("s", owner="u"), owner="u") == "s"


def test_the_throttle_lets_a_burst_through_then_spaces_requests() -> None:
    now = [100.0]
    throttle = Throttle({"quote": Rate(1, 1.0), "order": Rate(10, 1.0)},
                        monotonic=lambda: now[0])
    assert [throttle.reserve("quote") for _ in range(3)] == [0.0, 1.0, 2.0]
    assert [throttle.reserve("order") for _ in range(11)] == [0.0] * 10 + [pytest.approx(0.1)]
    assert throttle.reserve("unlisted") == 0.0
    now[0] += 10
    assert throttle.reserve("quote") == 0.0


def test_the_store_swaps_whole_masters_and_refuses_empty_or_truncated_ones() -> None:
    store: InstrumentStore[tuple[str, str, int], int] = InstrumentStore(
        instrument=lambda r: (r[0], r[1]), token=lambda r: r[2])
    with pytest.raises(InstrumentMasterInvalid, match="empty"):
        store.swap([], loaded_at=datetime.now(UTC))
    assert store.snapshot is None
    store.swap([("NSE", f"S{i}", i) for i in range(10)], loaded_at=datetime.now(UTC))
    assert store.get("NSE", "S3") == ("NSE", "S3", 3)
    assert store.by_token(7) == ("NSE", "S7", 7)
    with pytest.raises(InstrumentMasterInvalid, match="shrank"):
        store.swap([("NSE", "S1", 1)], loaded_at=datetime.now(UTC))
    assert store.get("NSE", "S9") is not None


def test_backoff_grows_to_its_cap() -> None:
    backoff = Backoff(initial_s=0.5, max_s=4.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = Backoff(initial_s=1.0, jitter=0.2)
    assert all(0.8 <= jittered.delay(0) <= 1.2 for _ in range(50))
