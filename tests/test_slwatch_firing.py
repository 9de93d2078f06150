"""Publishing exits: an intent the stream already has moves to the next action, and an
exit survives NATS going away (real nats-server, stopped and started again)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from nats.js import JetStreamContext

from core import subjects
from core.clock import IST, FakeClock, RealClock
from core.commands import build_command, publish_command
from core.db.enums import OrderAction
from core.embedded.nats_server import EmbeddedNats
from core.embedded.redis_server import EmbeddedRedis
from core.messages import OrderCommand, Tick, decoder
from core.nats import connect_nats
from core.strategies.runtime import StrategyRuntime
from core.streams import ensure_streams
from pipeline.slwatch.exits import ExitLedger
from pipeline.slwatch.firing import Firer
from pipeline.slwatch.index import Breach
from pipeline.slwatch.metrics import Metrics
from tests.stubs import eventually

DAY = "2026-11-25"
_command = decoder(OrderCommand)
_log = logging.getLogger("test.slwatch")
RECORD = StrategyRuntime(
    user_id="usr_1", strategy_id="str_1", rev=4, status="RUNNING", exchange="NSE",
    symbol="RELIANCE", buy_time="09:30:00", sell_time="15:00:00", stop_loss_type="PRICE",
    stop_loss_value="2400", quantity=1, broker="paper", is_simulated=False, position="BOUGHT",
    entry_price="2501.25", position_day=DAY)


def breach() -> tuple[list[Breach[StrategyRuntime]], Tick]:
    now = time.time_ns()
    return ([Breach("str_1", RECORD, "stop_loss", 240_000, 239_900)],
            Tick(exchange="NSE", symbol="RELIANCE", ltp_paise=239_900, exchange_ts=now,
                 received_ts=now))


async def commands(js: JetStreamContext) -> list[OrderCommand]:
    info = await js.stream_info(subjects.COMMANDS)
    if not info.state.messages:
        return []
    return [_command.decode((await js.get_msg(subjects.COMMANDS, seq)).data or b"")
            for seq in range(info.state.first_seq, info.state.last_seq + 1)]


async def test_an_intent_already_issued_today_moves_to_the_next_action(
        js: JetStreamContext) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 10, 0, tzinfo=IST))
    # An earlier life of this watcher sent the SL exit today (and it was rejected).
    await publish_command(js, build_command(
        clock.now(), user_id="usr_1", strategy_id="str_1", trading_day=DAY,
        action=OrderAction.SL_EXIT, reason="stop_loss", rev=3))
    ledger, metrics = ExitLedger(), Metrics()
    firer = Firer(js, clock, _log, ledger, metrics)
    breaches, tick = breach()
    firer.fire(breaches, tick, "trace-1")
    await eventually(lambda: metrics.commands == 2 and not firer.tasks)
    assert metrics.duplicates == 1
    stored = await commands(js)
    assert [(c.action, c.reason, c.rev) for c in stored] == [
        ("SL_EXIT", "stop_loss", 3), ("SQUARE_OFF", "stop_loss_retry", 4)]
    assert stored[1].trigger_price_paise == 239_900
    assert ledger.pending("str_1") == (DAY, OrderAction.SQUARE_OFF)


async def test_an_exit_is_published_once_nats_is_back(
        private_servers: tuple[EmbeddedNats, EmbeddedRedis]) -> None:
    nats_server, _ = private_servers
    nc = await connect_nats(nats_server.url, name="slwatch-test")
    try:
        js = nc.jetstream(timeout=0.3)
        await ensure_streams(js)
        ledger, metrics = ExitLedger(), Metrics()
        firer = Firer(js, RealClock(), _log, ledger, metrics)
        nats_server.stop()
        breaches, tick = breach()
        firer.fire(breaches, tick, "trace-2")
        await eventually(lambda: metrics.publish_failures >= 2, timeout=10,
                         message="publishing retried while NATS is down")
        assert metrics.commands == 0
        nats_server.start()
        await eventually(lambda: metrics.commands == 1 and not firer.tasks, timeout=15,
                         message="the exit published after NATS came back")
        assert [(c.action, c.trigger_price_paise) for c in await commands(js)] == [
            ("SL_EXIT", 239_900)]
        assert metrics.duplicates == 0
    finally:
        await nc.close()



async def test_the_sl_triggered_event_is_retried_until_the_events_stream_answers(
        private_servers: tuple[EmbeddedNats, EmbeddedRedis]) -> None:
    """As through an election of the EVENTS leader: the command is stored at once, and the
    event follows, once, when the stream answers again."""
    nats_server, _ = private_servers
    nc = await connect_nats(nats_server.url, name="slwatch-test")
    try:
        js = nc.jetstream(timeout=0.3)
        await ensure_streams(js)
        await js.delete_stream(subjects.EVENTS)
        ledger, metrics = ExitLedger(), Metrics()
        firer = Firer(js, RealClock(), _log, ledger, metrics)
        breaches, tick = breach()
        firer.fire(breaches, tick, "trace-3")
        await eventually(lambda: metrics.commands == 1, message="the exit command stored")
        await asyncio.sleep(0.5)
        assert firer.tasks, "the event is still being retried"
        await ensure_streams(js)
        await eventually(lambda: not firer.tasks, timeout=10, message="the event published")
        info = await js.stream_info(subjects.EVENTS)
        assert info.state.messages == 1
        stored = await js.get_msg(subjects.EVENTS, info.state.last_seq)
        assert stored.subject == subjects.event("usr_1", "str_1", "SL_TRIGGERED")
    finally:
        await nc.close()
