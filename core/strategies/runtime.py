"""The running copy of each strategy in Redis (DESIGN §5, STR-4).

PostgreSQL is the source of truth; Redis holds `user:{user_id}:strategy:{strategy_id}` for
every RUNNING strategy, with the same `rev`, and an index set for the pipeline. Writes are
guarded by `rev` in one Lua call, so an older update that arrives late never overwrites a
newer one. `rebuild_runtime()` restores it all from PostgreSQL after a Redis loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final

import msgspec
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import redis_keys
from core.db.enums import StrategyStatus
from core.db.models import Strategy
from core.strategies.strategy_validator import PAPER

_CHUNK: Final = 1000

_PUT: Final = """
local current = redis.call('GET', KEYS[1])
if current then
  local rev = cjson.decode(current)['rev']
  if rev and tonumber(rev) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""

_DROP: Final = """
local current = redis.call('GET', KEYS[1])
if current then
  local rev = cjson.decode(current)['rev']
  if rev and tonumber(rev) > tonumber(ARGV[1]) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""


class StrategyRuntime(msgspec.Struct, frozen=True, kw_only=True):
    """What the pipeline needs of a running strategy; money as decimal strings."""

    v: int = 1
    user_id: str
    strategy_id: str
    rev: int
    status: str
    exchange: str
    symbol: str
    buy_time: str
    sell_time: str
    stop_loss_type: str
    stop_loss_value: str
    quantity: int
    broker: str
    """A broker credential id, or `paper`."""
    is_simulated: bool
    position: str
    target_price: str | None = None
    trailing_sl_pct: str | None = None
    entry_price: str | None = None
    position_day: str | None = None
    started_at: str | None = None
    """When the strategy was (last) started, ISO-8601: triggers before it are not due."""


def _number(value: Decimal) -> str:
    # One spelling per number whatever the column scale: 1400.0000 and 1400.00 → "1400".
    return f"{value.normalize():f}"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else _number(value)


def from_row(row: Strategy) -> StrategyRuntime:
    """The runtime record of a strategy row."""
    return StrategyRuntime(
        user_id=row.user_id, strategy_id=row.id, rev=row.rev, status=row.status,
        exchange=row.exchange, symbol=row.symbol, buy_time=row.buy_time.isoformat(),
        sell_time=row.sell_time.isoformat(), stop_loss_type=row.stop_loss_type,
        stop_loss_value=_number(row.stop_loss_value), quantity=row.quantity,
        broker=row.broker_credential_id or PAPER, is_simulated=row.is_simulated,
        position=row.position, target_price=_text(row.target_price),
        trailing_sl_pct=_text(row.trailing_sl_pct), entry_price=_text(row.entry_price),
        position_day=row.position_day.isoformat() if row.position_day else None,
        started_at=row.started_at.isoformat() if row.started_at else None)


_decoder = msgspec.json.Decoder(StrategyRuntime)


class RuntimeStore:
    """Reads and writes the runtime records."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._put = redis.register_script(_PUT)
        self._drop = redis.register_script(_DROP)

    async def put(self, record: StrategyRuntime) -> bool:
        """Store `record` unless Redis already holds the same or a newer rev."""
        member = f"{record.user_id}:{record.strategy_id}"
        written = await self._put(
            keys=[redis_keys.strategy_state(record.user_id, record.strategy_id),
                  redis_keys.RUNNING_STRATEGIES],
            args=[msgspec.json.encode(record), record.rev, member])
        return bool(written)

    async def put_many(self, records: list[StrategyRuntime]) -> None:
        """`put` for many records in one pipelined round trip (same rev guard)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for record in records:
                await self._put(
                    keys=[redis_keys.strategy_state(record.user_id, record.strategy_id),
                          redis_keys.RUNNING_STRATEGIES],
                    args=[msgspec.json.encode(record), record.rev,
                          f"{record.user_id}:{record.strategy_id}"],
                    client=pipe)
            await pipe.execute()

    async def drop(self, user_id: str, strategy_id: str, rev: int) -> bool:
        """Remove the record unless Redis holds a newer rev than `rev`."""
        removed = await self._drop(
            keys=[redis_keys.strategy_state(user_id, strategy_id),
                  redis_keys.RUNNING_STRATEGIES],
            args=[rev, f"{user_id}:{strategy_id}"])
        return bool(removed)

    async def get(self, user_id: str, strategy_id: str) -> StrategyRuntime | None:
        """One runtime record (the key names the user, so another's is simply absent)."""
        raw = await self._redis.get(redis_keys.strategy_state(user_id, strategy_id))
        return None if raw is None else _decoder.decode(raw)

    async def get_all_active_strategies(self) -> list[StrategyRuntime]:
        """Every running strategy's record, for the pipeline's snapshot."""
        members = sorted(str(m) for m in await self._redis.smembers(redis_keys.RUNNING_STRATEGIES))
        records: list[StrategyRuntime] = []
        for start in range(0, len(members), _CHUNK):
            keys = [redis_keys.strategy_state(*m.split(":", 1))
                    for m in members[start:start + _CHUNK]]
            records += [_decoder.decode(raw) for raw in await self._redis.mget(keys) if raw]
        return records

    async def replace_all(self, records: Iterable[StrategyRuntime]) -> None:
        """Make Redis hold exactly `records` (used by `rebuild_runtime`)."""
        wanted = {f"{r.user_id}:{r.strategy_id}": r for r in records}
        present = {str(m) for m in await self._redis.smembers(redis_keys.RUNNING_STRATEGIES)}
        async with self._redis.pipeline(transaction=False) as pipe:
            for member in present - set(wanted):
                pipe.delete(redis_keys.strategy_state(*member.split(":", 1)))
                pipe.srem(redis_keys.RUNNING_STRATEGIES, member)
            for member, record in wanted.items():
                pipe.set(redis_keys.strategy_state(record.user_id, record.strategy_id),
                         msgspec.json.encode(record))
                pipe.sadd(redis_keys.RUNNING_STRATEGIES, member)
            await pipe.execute()


async def rebuild_runtime(session: AsyncSession, store: RuntimeStore) -> int:
    """Restore Redis from PostgreSQL: every RUNNING strategy, nothing else. Returns the count."""
    rows = (await session.execute(select(Strategy).where(
        Strategy.status == StrategyStatus.RUNNING.value,
        Strategy.deleted_at.is_(None)))).scalars()
    records = [from_row(row) for row in rows]
    await store.replace_all(records)
    return len(records)
