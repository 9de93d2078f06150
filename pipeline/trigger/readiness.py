"""The pre-market readiness gate (BRK-10): is a strategy's broker ready for its BUY now?

The decision at fire time is synchronous and in memory, so it never slows the trigger's
hot path or interleaves with its schedule: it reads a copy of each connection's state
columns and last probe that a background loop refreshes every
`ALGO_TRIGGER_READINESS_REFRESH_S` (and at once when a strategy on a new connection is
armed or a BUY is held). The loop also probes a broker (a session check, e.g. Kite
/user/profile) once in the `ALGO_TRIGGER_PROBE_LEAD_S` before a BUY on it, and again on
every refresh while a BUY on it is held.

Not ready: the connection is gone, its login was never finished, its token is past its
expiry (exact: compared with the clock at fire time), the broker refused the session, or
the last probe (younger than twice the lead) found the broker unreachable. A connection
not loaded yet is held silently until the next refresh. Paper and simulated strategies
need no broker and are always ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import IST, Clock
from core.connections.health import Health, HealthStore
from core.connections.model import CredentialState, not_ready_reason
from core.connections.probe import Prober
from core.db.models import BrokerCredential
from core.repos import broker_credentials
from core.strategies.runtime import StrategyRuntime
from core.strategies.strategy_validator import PAPER


@dataclass(frozen=True, slots=True)
class NotReady:
    """Why a BUY is held; `announce` False while the connection is merely not loaded yet."""

    reason: str
    announce: bool = True


def needs_broker(record: StrategyRuntime) -> bool:
    """True if the strategy trades on a real broker connection."""
    return record.broker != PAPER and not record.is_simulated


class Readiness:
    """The in-memory view of the connections the held strategies trade on."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], health: HealthStore,
                 prober: Prober | None, clock: Clock, log: logging.Logger, *,
                 probe_lead_s: float) -> None:
        self._sessions = sessions
        self._health_store = health
        self._prober = prober
        self._clock = clock
        self._log = log
        self._lead = timedelta(seconds=probe_lead_s)
        self._states: dict[str, CredentialState] = {}
        self._health: dict[str, Health] = {}
        self.wanted = asyncio.Event()
        """Set to ask the refresh loop for an early refresh."""

    def check(self, record: StrategyRuntime, now: datetime) -> NotReady | None:
        """None if `record`'s BUY may fire at `now`; else why it is held."""
        if not needs_broker(record):
            return None
        state = self._states.get(record.broker)
        if state is None:
            self.wanted.set()
            return NotReady("the broker connection is being checked", announce=False)
        reason = not_ready_reason(state, now)
        if reason is not None:
            return NotReady(reason)
        health = self._health.get(record.broker)
        if (health is not None and not health.reachable
                and now - health.checked <= 2 * max(self._lead, timedelta(seconds=30))):
            return NotReady(f"the {state.broker_type} API did not answer a check at "
                            f"{health.checked.astimezone(IST):%H:%M:%S} IST"
                            + (f" ({health.reason})" if health.reason else ""))
        return None

    async def refresh(self, credential_ids: Iterable[str], *, due_soon: Iterable[str] = (),
                      held: Iterable[str] = (), recheck_s: float = 5.0) -> None:
        """Re-read the state of these connections, and probe the usable ones with a BUY
        `due_soon` (last probe older than the lead) or `held` (older than `recheck_s`).
        Probing is off when the lead is 0."""
        ids = sorted(set(credential_ids))
        async with self._sessions() as session:
            states = await broker_credentials.states(session, ids)
        health = await self._health_store.get_many(ids)
        stale = (self._stale(set(due_soon) & set(states), states, health, self._lead)
                 | self._stale(set(held) & set(states), states, health,
                               timedelta(seconds=recheck_s)))
        if stale and self._prober is not None:
            async with self._sessions() as session:
                rows = list((await session.execute(select(BrokerCredential).where(
                    BrokerCredential.id.in_(sorted(stale))))).scalars())
            health.update(await self._prober.probe(rows))
            async with self._sessions() as session:  # a probe may have marked one invalid
                states.update(await broker_credentials.states(session, sorted(stale)))
        self._states, self._health = states, health

    def _stale(self, ids: set[str], states: Mapping[str, CredentialState],
               health: Mapping[str, Health], age: timedelta) -> set[str]:
        if self._lead <= timedelta(0):
            return set()
        now = self._clock.now()
        return {i for i in ids if not_ready_reason(states[i], now) is None
                and (i not in health or now - health[i].checked >= age)}
