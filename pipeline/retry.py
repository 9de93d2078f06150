"""Retrying a side effect the trigger must never drop (a command, a fired mark, a report)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from nats.errors import Error as NatsError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from core.clock import Clock

T = TypeVar("T")

TRANSIENT: Final = (NatsError, RedisError, DBAPIError, OSError)
"""Failures of a server or the network (nats' TimeoutError is an OSError too)."""

FIRST_DELAY_S: Final = 0.05
MAX_DELAY_S: Final = 0.5
"""Short: a JetStream election ends unannounced, and what waits should follow at once."""
_LOUD_EVERY: Final = 20


async def retry_forever(op: Callable[[], Awaitable[T]], *, clock: Clock, log: logging.Logger,
                        what: str) -> T:
    """Await `op()` until it succeeds, backing off from 50 ms to 0.5 s on transient errors.

    Only cancellation ends it early; anything but a transient error is a bug and raises.
    """
    delay = FIRST_DELAY_S
    attempt = 0
    while True:
        try:
            return await op()
        except TRANSIENT as exc:
            attempt += 1
            # One line when an outage starts and then now and then, not one per retry.
            level = logging.WARNING if attempt % _LOUD_EVERY == 1 else logging.DEBUG
            log.log(level, "%s failed (attempt %d), retrying: %s", what, attempt, exc)
            await clock.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
