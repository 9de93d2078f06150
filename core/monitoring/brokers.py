"""Each broker's reachability and its connections' token states (/health/broker).

Reachability comes from the last probes of its connections (core/connections/health.py:
status checks and the trigger's pre-BUY probes write them); no broker is called here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.connections.health import HealthStore
from core.connections.model import State
from core.db.enums import BrokerType
from core.repos import monitoring as repo

PROBES_READ: Final = 2000
"""At most this many connections' probes are read (the most recently validated)."""


@dataclass(frozen=True, slots=True)
class BrokerHealth:
    """One broker: `reachable` is its latest probe's verdict (None: never probed)."""

    broker_type: str
    reachable: bool | None
    last_checked_at: datetime | None
    last_error: str | None
    probes_ok: int
    probes_failed: int
    tokens: dict[str, int] = field(default_factory=dict)
    """Connections by state: connected, expired, invalid, pending_login."""

    @property
    def ok(self) -> bool:
        """Not known to be unreachable."""
        return self.reachable is not False


async def broker_health(sessions: async_sessionmaker[AsyncSession], health: HealthStore,
                        now: datetime) -> list[BrokerHealth]:
    """Every broker type, with its connections' states and their last probes."""
    async with sessions() as session:
        states = await repo.connection_states(session, now)
        connected = await repo.connected_ids(session, now, PROBES_READ)
    probes = await health.get_many(i for i, _ in connected)
    out: list[BrokerHealth] = []
    for broker in BrokerType:
        tokens = {s.value: 0 for s in State}
        for broker_type, state, count in states:
            if broker_type == broker.value:
                tokens[state] = count
        mine = [probes[i] for i, b in connected if b == broker.value and i in probes]
        latest = max(mine, key=lambda h: h.checked_at, default=None)
        out.append(BrokerHealth(
            broker_type=broker.value,
            reachable=None if latest is None else latest.reachable,
            last_checked_at=None if latest is None else latest.checked,
            last_error=None if latest is None or latest.reachable else latest.reason,
            probes_ok=sum(1 for h in mine if h.reachable),
            probes_failed=sum(1 for h in mine if not h.reachable), tokens=tokens))
    return out
