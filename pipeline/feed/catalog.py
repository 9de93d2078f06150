"""The tick sources `feed_sources` may name, built from the settings.

`synthetic` and `replay` make prices up or play a file; `broker` streams the WebSocket of
the broker account `ALGO_FEED_BROKER_CREDENTIAL` names (pipeline/feed/broker.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.paper.pricing import parse_paise
from core import redis_keys
from core.clock import Clock
from core.settings import Settings
from pipeline.feed.broker import BrokerSource
from pipeline.feed.errors import FeedConfigError, UnknownSource
from pipeline.feed.replay import ReplaySource, check_file
from pipeline.feed.sources import Instrument, TickSource
from pipeline.feed.synthetic import SyntheticSource

Sessions = async_sessionmaker[AsyncSession] | None
Builder = Callable[[Settings, Clock, Redis, logging.Logger, Sessions], TickSource]


def _synthetic(settings: Settings, clock: Clock, redis: Redis, log: logging.Logger,
               sessions: Sessions) -> TickSource:
    async def current(instruments: list[Instrument]) -> list[int | None]:
        try:
            raws = await redis.mget([redis_keys.ltp(*i) for i in instruments])
        except Exception as exc:  # noqa: BLE001 — no LTP to start from: draw a base price
            log.warning("could not read the last prices; starting from drawn ones: %s", exc)
            return [None] * len(instruments)
        return [parse_paise(raw) for raw in raws]

    return SyntheticSource(clock, rate=settings.feed_synthetic_rate,
                           seed=settings.feed_synthetic_seed, prices=current)


def _replay(settings: Settings, clock: Clock, redis: Redis, log: logging.Logger,
            sessions: Sessions) -> TickSource:
    path = settings.feed_replay_path
    if path is None:
        raise FeedConfigError("the replay source needs ALGO_FEED_REPLAY_PATH")
    check_file(path)
    return ReplaySource(clock, path, speed=settings.feed_replay_speed, log=log)


def _broker(settings: Settings, clock: Clock, redis: Redis, log: logging.Logger,
            sessions: Sessions) -> TickSource:
    credential_id = settings.feed_broker_credential
    if not credential_id:
        raise FeedConfigError("the broker source needs ALGO_FEED_BROKER_CREDENTIAL, the id of "
                              "the stored broker connection that streams market data")
    if sessions is None:
        raise FeedConfigError("the broker source needs the database")
    return BrokerSource.from_settings(settings, credential_id, sessions, redis, clock)


BUILDERS: Final[dict[str, Builder]] = {"synthetic": _synthetic, "replay": _replay,
                                       "broker": _broker}


def source_names(raw: str) -> list[str]:
    """The names in `feed_sources`, in order, without repeats; refuses unknown ones."""
    names = list(dict.fromkeys(n.strip().lower() for n in raw.split(",") if n.strip()))
    if not names:
        raise FeedConfigError(f"ALGO_FEED_SOURCES names no source; choose from "
                              f"{', '.join(BUILDERS)}")
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise UnknownSource(f"unknown feed source(s) {', '.join(unknown)} in "
                            f"ALGO_FEED_SOURCES; choose from {', '.join(BUILDERS)}")
    return names


def build_sources(settings: Settings, clock: Clock, redis: Redis, log: logging.Logger,
                  sessions: Sessions = None) -> list[TickSource]:
    """The sources `feed_sources` names (FeedConfigError if any is unusable)."""
    return [BUILDERS[name](settings, clock, redis, log, sessions) for name in
            source_names(settings.feed_sources)]
