"""The executor when processes die and servers stop: never a duplicate, never a lost order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.paper.faults import FaultMode, PaperFaults
from core import subjects
from core.clock import FakeClock, RealClock
from core.db.enums import OrderAction, OrderStatus, Position
from core.embedded.redis_server import EmbeddedRedis
from core.embedded.stack import Endpoints
from core.redis import create_redis
from pipeline.executor.dead_letters import REASON_HEADER
from tests.conftest import make_settings
from tests.order_kit import Kit, at
from tests.stubs import eventually


def _kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
         redis: Redis, nc: NatsClient, js: JetStreamContext, **settings: object) -> Kit:
    values: dict[str, object] = {"executor_ack_wait_s": 2.0, "order_lock_ttl_s": 2.0,
                                 "executor_max_deliver": 4}
    values.update(settings)
    return Kit(make_settings(endpoints, tmp_path, **values), sessions, redis, nc, js,
               FakeClock(at(9, 30)))


@contextmanager
def executor_process(endpoints: Endpoints, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m pipeline executor` as its own process, trading on the real clock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update(ALGO_ENV="dev", ALGO_NATS_URL=endpoints.nats_url,
               ALGO_DATABASE_URL=endpoints.database_url, ALGO_REDIS_URL=endpoints.redis_url,
               ALGO_PAPER_ALWAYS_OPEN="1", ALGO_EXECUTOR_ACK_WAIT_S="2",
               ALGO_ORDER_LOCK_TTL_S="2", ALGO_HEARTBEAT_INTERVAL_S="0.5",
               ALGO_HEARTBEAT_TTL_S="2")
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "executor"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_executor_killed_after_the_broker_accepted_makes_one_order(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = Kit(make_settings(endpoints, tmp_path), sessions, redis, nc, js, RealClock())
    # On the real clock: a sell time still ahead, or the BUY would be squared off at once.
    strategy = await kit.running_strategy(buy=time(0, 0), sell=time(23, 59, 59))
    await PaperFaults(redis).set(FaultMode.HANG_AFTER_ACCEPT)
    log = tmp_path / "executor.log"
    with executor_process(endpoints, log) as first:
        await kit.command(strategy, OrderAction.BUY)
        # The broker booked the order; the executor is inside the call, before its commit.
        await eventually(lambda: kit.paper_orders(strategy.user_id), timeout=20,
                         message="the paper broker booked the BUY")
        order = await kit.order(strategy.id, OrderAction.BUY)
        assert order is not None
        assert order.status == OrderStatus.PENDING
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    with executor_process(endpoints, log):
        order = await eventually(lambda: _filled(kit, strategy.id), timeout=30,
                                 message="the restarted executor settled the BUY")
    booked = await kit.paper_orders(strategy.user_id)
    assert len(booked) == 1, log.read_text()[-3000:]
    assert order.broker_order_id == booked[0].id
    assert (await kit.strategy(strategy.id)).position == Position.BOUGHT
    runtime = await kit.strategies.runtime(strategy.user_id, strategy.id)
    assert runtime is not None
    assert runtime.position == Position.BOUGHT


async def _filled(kit: Kit, strategy_id: str) -> object:
    order = await kit.order(strategy_id, OrderAction.BUY)
    return order if order is not None and order.status == OrderStatus.FILLED else None


async def test_redis_stopped_means_zero_broker_calls(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    own = EmbeddedRedis(tmp_path / "redis", _free_port(), persistent=False)
    own.start()
    own_redis = create_redis(own.url)
    try:
        kit = _kit(endpoints, tmp_path, sessions, own_redis, nc, js)
        strategy = await kit.running_strategy()
        factory = kit.counting_factory(own_redis)
        async with kit.executor(factory, redis=own_redis):
            own.stop()
            await kit.command(strategy, OrderAction.BUY)
            # Every delivery fails before the broker: Redis answers neither lock nor halt.
            await eventually(lambda: _order_row(kit, strategy.id), timeout=10)
            await _wait_deliveries(js, 2)
            assert factory.calls == []
            own.start()
            await kit.set_ltp()  # a fresh Redis: the feed would quote again
            order = await kit.settled(strategy.id, OrderAction.BUY)
        assert order.status == OrderStatus.FILLED
        assert len(factory.calls) == 1
        assert len(await kit.paper_orders(strategy.user_id)) == 1
    finally:
        await own_redis.aclose()
        own.stop()


def _free_port() -> int:
    from core.embedded.process import pick_port
    return pick_port(0)


async def _order_row(kit: Kit, strategy_id: str) -> object:
    return await kit.order(strategy_id, OrderAction.BUY)


async def _wait_deliveries(js: JetStreamContext, n: int) -> None:
    async def delivered() -> bool:
        info = await js.consumer_info(subjects.COMMANDS, "executor")
        return bool(info.num_redelivered >= n - 1 or info.delivered.consumer_seq >= n)
    await eventually(delivered, timeout=15, message=f"{n} deliveries")


async def test_an_undecodable_command_goes_to_the_dead_letter_stream(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(endpoints, tmp_path, sessions, redis, nc, js)
    async with kit.executor() as executor:
        await js.publish("cmd.order.usr_x.str_y", b"{not json")
        await eventually(lambda: executor.consumer.dead_lettered == 1)
    parked = await js.get_last_msg(subjects.DLQ, "dlq.commands.executor")
    assert parked.data == b"{not json"
    assert parked.headers is not None
    assert parked.headers[REASON_HEADER].startswith("undecodable command")
    assert (await js.stream_info(subjects.COMMANDS)).state.messages == 0


async def test_a_command_failing_every_delivery_is_dead_lettered_with_an_error_event(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(endpoints, tmp_path, sessions, redis, nc, js, executor_max_deliver=2)
    strategy = await kit.running_strategy()
    await PaperFaults(redis).set(FaultMode.LOOKUP_FAIL, count=-1)
    await PaperFaults(redis).set(FaultMode.ERROR_5XX, count=-1)
    clock = kit.clock
    assert isinstance(clock, FakeClock)
    async with kit.executor() as executor:
        await kit.command(strategy, OrderAction.BUY)

        async def buried() -> bool:
            await clock.advance(1.0)  # lookup backoffs run on the fake clock
            return executor.consumer.dead_lettered == 1
        await eventually(buried, timeout=20)
    order = await kit.order(strategy.id, OrderAction.BUY)
    assert order is not None
    assert order.status == OrderStatus.UNKNOWN  # never guessed: reconciliation settles it
    error = await js.get_last_msg(subjects.EVENTS,
                                  subjects.event(strategy.user_id, strategy.id, "ERROR"))
    assert error.data is not None
    assert b"command_dead_lettered" in error.data


async def test_startup_reconciliation_adopts_an_order_the_broker_has(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(endpoints, tmp_path, sessions, redis, nc, js)
    strategy = await kit.running_strategy()
    await PaperFaults(redis).set(FaultMode.HANG_AFTER_ACCEPT, hang_s=3600)
    async with kit.executor():
        await kit.command(strategy, OrderAction.BUY)
        await eventually(lambda: kit.paper_orders(strategy.user_id))
    # The service stopped mid-call (its in-flight work cancelled): the row is unsettled.
    order = await kit.order(strategy.id, OrderAction.BUY)
    assert order is not None
    assert order.status == OrderStatus.PENDING
    await redis.delete(f"lock:order:{strategy.id}:BUY")  # as if its TTL ran out
    await js.delete_consumer(subjects.COMMANDS, "executor")  # and the command were gone
    async with kit.executor() as executor:
        assert executor.reconciler.adopted == 1
        order = await kit.order(strategy.id, OrderAction.BUY)
        assert order is not None
        assert order.status == OrderStatus.FILLED
    assert len(await kit.paper_orders(strategy.user_id)) == 1
    assert (await kit.strategy(strategy.id)).position == Position.BOUGHT


async def test_stopping_with_an_open_position_squares_it_off(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(endpoints, tmp_path, sessions, redis, nc, js)
    strategy = await kit.running_strategy()
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, OrderAction.BUY)
        await kit.settled(strategy.id, OrderAction.BUY)
        await kit.strategies.stop(strategy.user_id, strategy.id)
        exit_order = await kit.settled(strategy.id, OrderAction.SQUARE_OFF)
    assert exit_order.status == OrderStatus.FILLED
    assert exit_order.side == "SELL"
    row = await kit.strategy(strategy.id)
    assert row.position == Position.SOLD
    assert [o.side for o in await kit.paper_orders(strategy.user_id)] == ["BUY", "SELL"]


@pytest.mark.parametrize("action", [OrderAction.SELL, OrderAction.SL_EXIT])
async def test_an_exit_without_a_position_is_skipped(
        endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext, action: OrderAction) -> None:
    kit = _kit(endpoints, tmp_path, sessions, redis, nc, js)
    strategy = await kit.running_strategy()
    factory = kit.counting_factory()
    async with kit.executor(factory):
        await kit.command(strategy, action)
        order = await kit.settled(strategy.id, action)
    assert order.status == OrderStatus.SKIPPED
    assert order.status_reason == "no open position"
    assert factory.calls == []
