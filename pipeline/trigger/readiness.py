"""The pre-market readiness gate (BRK-10): is a strategy's broker ready for its BUY now?

The decision at fire time is synchronous and in memory, so it never slows the trigger's
hot path or interleaves with its schedule: it reads a copy of each connection's state
columns and last probe that a background loop refreshes every
`ALGO_TRIGGER_READINESS_REFRESH_S` (refresh.py; at once when a strategy on a new
connection is armed or a BUY is held), for the connections with a BUY coming up or held.
The loop also probes a broker (a session check, e.g. Kite /user/profile) once in the
`ALGO_TRIGGER_PROBE_LEAD_S` before a BUY on it, and again on every refresh while a BUY on it
is held.

A refresh applies the state it reads at once, and each probe's result as it arrives: a slow
or hanging broker delays only its own connections. Probes of held BUYs' connections run
first and are awaited; the others run in the background, a few at a time, so that a
held BUY's probe always finds the prober free.

Not ready: the connection is gone, its login was never finished, its token is past its
expiry (exact: compared with the clock at fire time), the broker refused the session, or
the last probe (younger than twice the lead) found the broker unreachable. A connection
not loaded yet is held silently until the next refresh. Paper and simulated strategies
need no broker and are always ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import IST, Clock
from core.connections.health import Health, HealthStore
from core.connections.model import CredentialState, not_ready_reason
from core.db.models import BrokerCredential
from core.repos import broker_credentials
from core.strategies.runtime import StrategyRuntime
from core.strategies.strategy_validator import PAPER

BACKGROUND_PROBES: Final = 4
"""Probes of BUYs coming up (not held) in flight at once: fewer than the prober's slots."""


class Probe(Protocol):
    """What the readiness gate needs of core.connections.probe.Prober."""

    async def probe(self, rows: Iterable[BrokerCredential]) -> dict[str, Health]:
        """Probe these connections; each result by id (a row may have none)."""
        ...


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
                 prober: Probe | None, clock: Clock, log: logging.Logger, *,
                 probe_lead_s: float) -> None:
        self._sessions = sessions
        self._health_store = health
        self._prober = prober
        self._clock = clock
        self._log = log
        self._lead = timedelta(seconds=probe_lead_s)
        self._states: dict[str, CredentialState] = {}
        self._health: dict[str, Health] = {}
        self._probing: dict[str, asyncio.Task[None]] = {}
        """Probes in flight, by connection (never two of one connection at once)."""
        self._background = asyncio.Semaphore(BACKGROUND_PROBES)
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
        """Re-read the state of these connections and `held` (merged into the view), and
        probe the usable ones `held` (last probe older than `recheck_s`: awaited) or with a
        BUY `due_soon` (older than the lead: in the background). Probing is off when the
        lead is 0."""
        held = set(held)
        ids = sorted(set(credential_ids) | held)
        if not ids:
            return
        async with self._sessions() as session:
            states = await broker_credentials.states(session, ids)
        health = await self._health_store.get_many(ids)
        for cid in ids:
            if cid in states:
                self._states[cid] = states[cid]
            else:  # hard-deleted: held silently until its grace ends, as if never loaded
                self._states.pop(cid, None)
        self._health.update(health)
        if self._prober is None:
            return
        urgent = self._stale(held & set(states), timedelta(seconds=recheck_s))
        later = self._stale(set(due_soon) & set(states), self._lead) - urgent
        todo = (urgent | later) - set(self._probing)
        if todo:
            async with self._sessions() as session:
                rows = {r.id: r for r in (await session.execute(select(BrokerCredential).where(
                    BrokerCredential.id.in_(sorted(todo))))).scalars()}
            for cid in sorted(urgent & set(rows)):
                self._start(rows[cid], urgent=True)
            for cid in sorted(later & set(rows), key=self._last_checked):
                self._start(rows[cid], urgent=False)
        waiting = [self._probing[c] for c in urgent if c in self._probing]
        if waiting:
            await asyncio.wait(waiting)

    async def close(self) -> None:
        """Cancel the probes in flight."""
        tasks = list(self._probing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, row: BrokerCredential, *, urgent: bool) -> None:
        task = asyncio.create_task(self._probe(row, urgent=urgent),
                                   name=f"readiness-probe-{row.id}")
        self._probing[row.id] = task
        task.add_done_callback(lambda _: self._probing.pop(row.id, None))

    async def _probe(self, row: BrokerCredential, *, urgent: bool) -> None:
        assert self._prober is not None
        try:
            if urgent:
                found = await self._prober.probe([row])
            else:
                async with self._background:
                    found = await self._prober.probe([row])
            if row.id in found:
                self._health[row.id] = found[row.id]
            async with self._sessions() as session:  # a probe may have marked it invalid
                self._states.update(await broker_credentials.states(session, [row.id]))
        except Exception:  # noqa: BLE001 — logged; one probe never stops the others
            self._log.exception("broker probe failed", extra={"credential_id": row.id})

    def _last_checked(self, credential_id: str) -> float:
        health = self._health.get(credential_id)
        return health.checked_at if health is not None else 0.0

    def _stale(self, ids: set[str], age: timedelta) -> set[str]:
        if self._lead <= timedelta(0):
            return set()
        now = self._clock.now()
        return {i for i in ids if not_ready_reason(self._states[i], now) is None
                and (i not in self._health or now - self._health[i].checked >= age)}
