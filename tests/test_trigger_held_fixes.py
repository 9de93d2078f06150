"""The readiness gate's held BUYs against real NATS, Redis and PostgreSQL on a fake clock:
a held BUY never fires at or after its own SELL time; replicas agree on fire-or-missed
(one decision per entry in Redis); a held BUY that stops being owed (moved, stopped,
restarted past its grace) is reported missed with the reason it was held."""

from __future__ import annotations

from datetime import time
from typing import Any

from core import redis_keys
from core.db.enums import OrderAction
from core.events import EventPublisher
from core.messages import Event
from core.strategies.runtime import RuntimeStore
from pipeline.trigger.firing import Firer
from pipeline.trigger.held import HeldReporter
from pipeline.trigger.missed import RESCHEDULED, SELL_CAME, STOPPED, MissedReporter
from pipeline.trigger.schedule import Entry
from tests.stubs import eventually
from tests.test_readiness_gate import connection, held_events, relogin, step_until
from tests.test_trigger import TRADING_DAY, World, ist
from tests.test_trigger import world_factory as world_factory  # the fixture


async def missed_events(world: World) -> list[Event]:
    return [e for e in await world.errors() if e.data.get("kind") == "trigger_missed"]


async def test_a_held_buy_never_fires_after_its_own_sell(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    credential = await connection(world, expires_at=ist(6, 0))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 30, 20), broker=credential)
    await world.trigger()
    await world.clock.set(ist(9, 30))
    await eventually(lambda: held_events(world), message="the held event")

    await step_until(world, lambda: world.command_count(), until=ist(9, 30, 21))
    [(_, sell)] = await world.wait_commands(1)
    assert (sell.strategy_id, sell.action) == (strategy.id, "SELL")
    await relogin(world, credential)  # too late: the SELL is done
    await world.clock.advance(20)
    await step_until(world, lambda: missed_events(world), until=ist(9, 31, 30))
    [missed] = await missed_events(world)
    assert missed.data["action"] == "BUY" and missed.data["ended"] == SELL_CAME
    assert "access token expired" in missed.data["held_because"]
    for _ in range(5):
        await world.clock.advance(5)
    assert [c.action for _, c in await world.commands()] == ["SELL"]


async def _entry(world: World, strategy_id: str) -> Entry:
    record = await RuntimeStore(world.redis).get(world.user_id, strategy_id)
    assert record is not None
    return Entry(TRADING_DAY, ist(9, 30), OrderAction.BUY, record)


def _parts(world: World) -> tuple[Firer, MissedReporter, HeldReporter]:
    import logging
    log = logging.getLogger("test")
    events = EventPublisher(world.js, world.clock)
    return (Firer(world.js, world.redis, world.clock, log),
            MissedReporter(events, world.redis, world.sessions, world.clock, log, 60),
            HeldReporter(events, world.redis, world.sessions, world.clock, log, 60))


async def test_a_missed_decision_stops_another_replicas_held_fire(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 31))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45))
    entry = await _entry(world, strategy.id)
    firer, reporter, _ = _parts(world)
    await reporter.report([entry], ist(9, 31))  # replica A: missed at the grace end
    await firer.fire([entry], claim=True)  # replica B found the broker ready 0.5 s later
    assert await world.command_count() == 0 and firer.fired == 0
    assert len(await missed_events(world)) == 1


async def test_a_held_fire_stops_another_replicas_missed_report(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 31))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45))
    entry = await _entry(world, strategy.id)
    firer, reporter, held = _parts(world)
    await firer.fire([entry], claim=True)
    await firer.fire([entry], claim=True)  # a second replica's claim: same decision, one order
    await reporter.report([entry], ist(9, 31))
    assert await world.command_count() == 1 and reporter.reported == 0
    await held.report(entry, "the broker is down")  # a replica that still holds it
    assert held.reported == 0
    assert await world.errors() == []


async def test_a_late_report_never_follows_an_on_time_fire(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 45))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45))
    entry = await _entry(world, strategy.id)
    firer, reporter, _ = _parts(world)
    await firer.fire([entry])  # on time, on one replica: no claim before the publish
    await reporter.report([entry], ist(9, 45))  # a stalled replica finds it 15 min late
    assert reporter.reported == 0 and await world.errors() == []


async def test_a_held_buy_moved_into_the_past_is_reported_missed(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    credential = await connection(world, expires_at=ist(6, 0))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45), broker=credential)
    trigger = await world.trigger()
    await world.clock.set(ist(9, 30))
    await eventually(lambda: held_events(world), message="the held event")
    await world.clock.advance(3)
    await world.strategies.update(world.user_id, strategy.id, {"buy_time": time(9, 29)})
    [missed] = await eventually(lambda: missed_events(world), message="the missed event")
    assert missed.data["action"] == "BUY" and missed.data["ended"] == RESCHEDULED
    assert "access token expired" in missed.data["held_because"]
    assert trigger.missed == 1


async def test_a_held_buy_whose_time_moves_ahead_is_no_longer_held(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    credential = await connection(world, expires_at=ist(6, 0))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45), broker=credential)
    trigger = await world.trigger()
    await world.clock.set(ist(9, 30))
    await eventually(lambda: held_events(world), message="the held event")
    await world.strategies.update(world.user_id, strategy.id, {"buy_time": time(9, 40)})
    key = (strategy.id, OrderAction.BUY)
    await eventually(lambda: trigger._book.held_reason(key) is None)
    assert trigger.next_fire_at() == ist(9, 40)


async def test_a_held_buy_of_a_stopped_strategy_is_reported_missed(world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    credential = await connection(world, expires_at=ist(6, 0))
    strategy = await world.running(buy=time(9, 30), sell=time(9, 45), broker=credential)
    await world.trigger()
    await world.clock.set(ist(9, 30))
    await eventually(lambda: held_events(world), message="the held event")
    await world.strategies.stop(world.user_id, strategy.id)
    [missed] = await eventually(lambda: missed_events(world), message="the missed event")
    assert missed.data["ended"] == STOPPED and "expired" in missed.data["held_because"]


async def test_a_restart_past_the_grace_reports_why_the_buy_was_held(
        world_factory: Any) -> None:
    world: World = await world_factory(ist(9, 29))
    credential = await connection(world, expires_at=ist(6, 0))
    await world.running(buy=time(9, 30), sell=time(9, 45), broker=credential)
    first = await world.trigger()
    await world.clock.set(ist(9, 30))
    [held] = await eventually(lambda: held_events(world), message="the held event")
    await world.stop(first)
    await world.clock.set(ist(9, 32))
    await world.trigger("t2")
    [missed] = await eventually(lambda: missed_events(world), message="the missed event")
    assert missed.data["held_because"] == held.data["reason"]
    assert "late" not in missed.data["message"] and "held because" in missed.data["message"]
    assert await world.redis.hget(redis_keys.trigger_decided("2026-11-25"),
                                  f"{missed.strategy_id}:BUY") == "missed"
