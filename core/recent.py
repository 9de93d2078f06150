"""A bounded, process-local memory of keys seen lately: "known good for N seconds"."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

K = TypeVar("K", bound=Hashable)

DEFAULT_CAPACITY: Final = 50_000


class Recent(Generic[K]):
    """Keys remembered for `ttl_s` seconds; past `capacity` keys it forgets everything
    (a cache of facts that are cheap to look up again, never of decisions)."""

    def __init__(self, ttl_s: float, capacity: int = DEFAULT_CAPACITY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._until: dict[K, float] = {}

    def fresh(self, key: K) -> bool:
        """Whether `key` was remembered less than `ttl_s` ago."""
        until = self._until.get(key)
        if until is None:
            return False
        if until > self._clock():
            return True
        del self._until[key]
        return False

    def remember(self, key: K) -> None:
        """Remember `key` from now on for `ttl_s`."""
        if len(self._until) >= self._capacity:
            self._until.clear()
        self._until[key] = self._clock() + self._ttl_s
