"""Strategy use cases: create, read, update, delete, start, stop (STR-1…STR-4).

PostgreSQL is written first, in one transaction with the row locked and `rev` bumped; then
the runtime copy in Redis and the event follow in the same code path. If that second step
fails the change is saved, the caller gets 503, and `rebuild_runtime()` repairs Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from nats.errors import Error as NatsError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import error_codes
from core.clock import Clock, trading_day
from core.commands import CommandPublisher, build_command
from core.db.engine import autocommit
from core.db.enums import OrderAction, Position, StopLossType, StrategyStatus
from core.db.models import Strategy
from core.errors import AlgoError, Conflict, NotFound, Unavailable
from core.events import EventPublisher, EventType
from core.ids import new_id
from core.repos import strategies as repo
from core.strategies import lifecycle
from core.strategies.facts import facts_for, facts_for_many
from core.strategies.lifecycle import Action
from core.strategies.runtime import RuntimeStore, StrategyRuntime, from_row
from core.strategies.strategy_validator import PAPER, Limits, StrategySpec, validate

log = logging.getLogger("algo.strategies")


@dataclass
class BulkOutcome:
    """What a bulk call did: the strategies changed, and why each other one was not."""

    started: list[Strategy] = field(default_factory=list)
    failed: list[tuple[str, AlgoError]] = field(default_factory=list)


def spec_of(row: Strategy) -> StrategySpec:
    """The validator's view of an existing strategy."""
    return StrategySpec(
        exchange=row.exchange, symbol=row.symbol, buy_time=row.buy_time,
        sell_time=row.sell_time, stop_loss_type=StopLossType(row.stop_loss_type),
        stop_loss_value=row.stop_loss_value, quantity=row.quantity,
        broker=row.broker_credential_id or PAPER, is_simulated=row.is_simulated,
        target_price=row.target_price, trailing_sl_pct=row.trailing_sl_pct)


def _to(status: str, action: Action) -> str:
    new = lifecycle.transition(status, action)
    assert new is not None  # only DELETE leads nowhere
    return new.value


# Which StrategySpec fields an update names, in lifecycle terms.
_EDIT_FIELD = {"stop_loss_type": "stop_loss", "stop_loss_value": "stop_loss",
               "exchange": "symbol", "broker": "broker_credential_id"}


class StrategyService:
    """Every change to a strategy goes through here."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis,
                 events: EventPublisher, clock: Clock, limits: Limits, *,
                 commands: CommandPublisher | None = None) -> None:
        self._sessions = sessions
        self._redis = redis
        self._runtime = RuntimeStore(redis)
        self._events = events
        self._clock = clock
        self._limits = limits
        self._commands = commands

    async def _validate(self, session: AsyncSession, user_id: str, spec: StrategySpec) -> None:
        validate(spec, await facts_for(session, self._redis, user_id, spec), self._limits)

    async def create(self, user_id: str, name: str, data: StrategySpec) -> Strategy:
        """A new strategy in CREATED."""
        async with self._sessions() as session, session.begin():
            await self._validate(session, user_id, data)
            return await repo.add(session, Strategy(
                id=new_id("str"), user_id=user_id, name=name, exchange=data.exchange,
                symbol=data.symbol, buy_time=data.buy_time, sell_time=data.sell_time,
                stop_loss_type=data.stop_loss_type.value, stop_loss_value=data.stop_loss_value,
                quantity=data.quantity,
                broker_credential_id=None if data.broker == PAPER else data.broker,
                is_simulated=data.is_simulated, target_price=data.target_price,
                trailing_sl_pct=data.trailing_sl_pct, status=StrategyStatus.CREATED.value,
                position=Position.NONE.value, rev=0))

    async def get(self, user_id: str, strategy_id: str) -> Strategy:
        """The user's strategy, or NotFound (also for another user's)."""
        async with self._sessions() as session:
            await autocommit(session)
            row = await repo.get_owned(session, user_id, strategy_id)
        if row is None:
            raise NotFound("Strategy not found")
        return row

    async def page(self, user_id: str, flt: repo.StrategyFilter, *, sort: repo.SortKey,
                   descending: bool, limit: int, after: tuple[Any, str] | None,
                   ) -> Sequence[Row[Any]]:
        """A page of the user's strategies."""
        async with self._sessions() as session:
            await autocommit(session)
            return await repo.list_owned(session, user_id, flt, sort=sort,
                                         descending=descending, limit=limit, after=after)

    async def update(self, user_id: str, strategy_id: str, changes: dict[str, Any]) -> Strategy:
        """Change fields; while RUNNING only risk fields and times, re-armed live."""
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, user_id, strategy_id)
            # An open position is exited on its entry's account and instrument: those, like
            # a running strategy's, cannot change until it is closed.
            status = StrategyStatus.RUNNING if row.position == Position.BOUGHT.value \
                else row.status
            lifecycle.check_edit(status, {_EDIT_FIELD.get(k, k) for k in changes})
            merged = replace(spec_of(row), **{k: v for k, v in changes.items() if k != "name"})
            await self._validate(session, user_id, merged)
            for key, value in changes.items():
                if key == "broker":
                    row.broker_credential_id = None if value == PAPER else value
                elif key == "stop_loss_type":
                    row.stop_loss_type = StopLossType(value).value
                else:
                    setattr(row, key, value)
            self._bump(row)
        # Every change is announced; only a running strategy has a runtime copy to re-arm.
        await self._sync(row, EventType.STRATEGY_UPDATED,
                         put=row.status == StrategyStatus.RUNNING.value,
                         data={"changed": sorted(changes)})
        return row

    async def delete(self, user_id: str, strategy_id: str) -> None:
        """Soft delete; refused while RUNNING."""
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, user_id, strategy_id)
            lifecycle.transition(row.status, Action.DELETE)
            row.deleted_at = self._clock.now()
            self._bump(row)

    async def start(self, user_id: str, strategy_id: str) -> Strategy:
        """RUNNING: the runtime copy goes to Redis and STRATEGY_STARTED is published."""
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, user_id, strategy_id)
            row.status = _to(row.status, Action.START)
            await self._validate(session, user_id, spec_of(row))
            row.started_at = self._clock.now()
            row.status_reason = None
            row.consecutive_failures = 0
            self._bump(row)
        await self._sync(row, EventType.STRATEGY_STARTED, put=True)
        return row

    async def start_many(self, user_id: str, strategy_ids: list[str]) -> BulkOutcome:
        """Start many of the user's strategies in one transaction; each that cannot start
        (unknown, illegal now, or invalid) is reported and left as it was."""
        outcome = BulkOutcome()
        wanted = list(dict.fromkeys(strategy_ids))
        async with self._sessions() as session, session.begin():
            rows = await repo.get_owned_many(session, user_id, wanted)
            found = {row.id for row in rows}
            outcome.failed += [(sid, NotFound("Strategy not found")) for sid in wanted
                               if sid not in found]
            startable: list[Strategy] = []
            for row in rows:
                try:
                    lifecycle.transition(row.status, Action.START)
                except AlgoError as exc:
                    outcome.failed.append((row.id, exc))
                else:
                    startable.append(row)
            facts = await facts_for_many(session, self._redis, user_id,
                                         [spec_of(r) for r in startable])
            now = self._clock.now()
            for row, fact in zip(startable, facts, strict=True):
                try:
                    validate(spec_of(row), fact, self._limits)
                except AlgoError as exc:
                    outcome.failed.append((row.id, exc))
                    continue
                row.status = StrategyStatus.RUNNING.value
                row.started_at = now
                row.status_reason = None
                row.consecutive_failures = 0
                self._bump(row)
                outcome.started.append(row)
        await self._sync_many(outcome.started, EventType.STRATEGY_STARTED)
        return outcome

    async def _sync_many(self, rows: list[Strategy], event_type: EventType) -> None:
        if not rows:
            return
        try:
            await self._runtime.put_many([from_row(row) for row in rows])
            await asyncio.gather(*(self._events.publish(self._events.build(
                event_type, user_id=row.user_id, strategy_id=row.id, rev=row.rev,
                data={"status": row.status})) for row in rows))
        except (RedisError, NatsError, TimeoutError) as exc:
            log.error("bulk change saved but runtime sync failed; rebuild_runtime() will "
                      "repair", extra={"strategies": len(rows)})
            raise Unavailable("Saved; the live update is pending") from exc

    async def stop(self, user_id: str, strategy_id: str, reason: str = "stopped by user",
                   ) -> Strategy:
        """STOPPED: the runtime copy is removed and STRATEGY_STOPPED is published. An open
        position is squared off at once (RUN-9): a SQUARE_OFF command goes to the executor,
        which sells at market whatever the strategy's status."""
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, user_id, strategy_id)
            row.status = _to(row.status, Action.STOP)
            row.stopped_at = self._clock.now()
            row.status_reason = reason
            self._bump(row)
        square_off = row.position == Position.BOUGHT.value
        try:
            await self._sync(row, EventType.STRATEGY_STOPPED, put=False,
                             data={"reason": reason, "square_off": square_off})
        finally:
            # Whatever happened to the announcement, the open position must be closed
            # (and if even this fails, the executor's sweep squares it off).
            if square_off:
                await self._square_off(row)
        return row

    async def square_off(self, user_id: str, strategy_id: str) -> Strategy:
        """Exit the day's open position now, whatever the strategy's status (RUN-9)."""
        async with self._sessions() as session:
            await autocommit(session)
            row = await repo.get_owned(session, user_id, strategy_id)
        if row is None:
            raise NotFound("Strategy not found")
        if row.position != Position.BOUGHT.value:
            raise Conflict("The strategy holds no open position",
                           code=error_codes.STR_NO_POSITION,
                           details={"position": row.position})
        await self._square_off(row)
        return row

    async def _square_off(self, row: Strategy) -> None:
        if self._commands is None:
            raise RuntimeError("StrategyService needs a CommandPublisher to square off")
        try:
            await self._commands.publish(build_command(
                self._clock.now(), user_id=row.user_id, strategy_id=row.id,
                trading_day=trading_day(self._clock).isoformat(),
                action=OrderAction.SQUARE_OFF, reason="square_off", rev=row.rev))
        except (NatsError, TimeoutError) as exc:
            log.error("strategy stopped but its square-off could not be queued",
                      extra={"strategy_id": row.id})
            raise Unavailable("The square-off of the open position could not be queued: "
                              "retry with POST /strategies/{id}/square-off (the executor "
                              "also squares off orphaned positions on its own)",
                              details={"strategy_id": row.id}) from exc

    async def disarm_stopped(self, user_id: str, stopped: list[tuple[str, int]],
                             reason: str) -> None:
        """After strategies were stopped in bulk (a user deleted): drop their runtime copies
        and publish STRATEGY_STOPPED, as `stop` does for one."""
        for strategy_id, rev in stopped:
            try:
                await self._runtime.drop(user_id, strategy_id, rev)
                await self._events.publish(self._events.build(
                    EventType.STRATEGY_STOPPED, user_id=user_id, strategy_id=strategy_id,
                    rev=rev, data={"status": StrategyStatus.STOPPED.value, "reason": reason}))
            except (RedisError, NatsError, TimeoutError) as exc:
                log.error("bulk stop saved but runtime sync failed; rebuild_runtime() will "
                          "repair", extra={"strategy_id": strategy_id, "rev": rev})
                raise Unavailable("Saved; the live update is pending",
                                  details={"strategy_id": strategy_id}) from exc

    async def runtime(self, user_id: str, strategy_id: str) -> StrategyRuntime | None:
        """The live runtime copy, if the strategy is running."""
        return await self._runtime.get(user_id, strategy_id)

    async def _locked(self, session: AsyncSession, user_id: str, strategy_id: str) -> Strategy:
        row = await repo.get_owned(session, user_id, strategy_id, for_update=True)
        if row is None:
            raise NotFound("Strategy not found")
        return row

    def _bump(self, row: Strategy) -> None:
        row.rev = row.rev + 1
        row.updated_at = self._clock.now()

    async def _sync(self, row: Strategy, event_type: EventType, *, put: bool,
                    data: dict[str, Any] | None = None) -> None:
        try:
            if put:
                await self._runtime.put(from_row(row))
            elif row.status != StrategyStatus.RUNNING.value:
                await self._runtime.drop(row.user_id, row.id, row.rev)
            event = self._events.build(event_type, user_id=row.user_id, strategy_id=row.id,
                                       rev=row.rev, data={"status": row.status, **(data or {})})
            await self._events.publish(event)
        except (RedisError, NatsError, TimeoutError) as exc:
            log.error("strategy saved but runtime sync failed; rebuild_runtime() will repair",
                      extra={"strategy_id": row.id, "rev": row.rev})
            raise Unavailable("Saved; the live update is pending",
                              details={"strategy_id": row.id}) from exc
