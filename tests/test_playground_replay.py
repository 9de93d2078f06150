"""Replays through the real trigger, watcher and executor: hand-computed P&L and charges,
determinism, and isolation (simulated strategies only, nothing on the live streams)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock
from core.db.enums import StopLossType
from core.db.models import Order
from core.embedded.stack import Endpoints
from core.playground.daygen import DaySpec, group_by_instant, synthetic_day, write_day
from core.repos.playground import NotSimulated, ReplayRefused
from core.repos.users import create_user
from core.settings import Settings
from core.strategies.strategy_validator import StrategySpec
from pipeline.feed.replay import read_ticks
from pipeline.playground.engine import ReplayEngine
from pipeline.playground.wiring import scratch_redis
from tests.conftest import make_settings
from tests.order_kit import TRADING_DAY, Kit, at

DAY = TRADING_DAY


def _ns(hh: int, mm: int, ss: int = 0) -> int:
    return int(at(hh, mm, ss, DAY).timestamp()) * 1_000_000_000


@pytest.fixture
async def scratch(play_settings: Settings, endpoints: Endpoints) -> AsyncIterator[Redis]:
    """The replay's own Redis db."""
    client = scratch_redis(play_settings, endpoints.redis_url)
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def play_settings(endpoints: Endpoints, tmp_path: Path) -> Settings:
    """No slippage: fills at the last price, so the figures below are exact."""
    return make_settings(endpoints, tmp_path, paper_slippage_bps=0)


async def create_user_for_tests(sessions: async_sessionmaker[AsyncSession], email: str) -> str:
    async with sessions() as session, session.begin():
        return (await create_user(session, email=email, password_hash="x")).id


def _kit(settings: Settings, sessions: async_sessionmaker[AsyncSession], redis: Redis,
         nc: NatsClient, js: JetStreamContext) -> Kit:
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 0)))


async def _strategy(kit: Kit, user_id: str, symbol: str, qty: int, *,
                    stop: Decimal, kind: StopLossType = StopLossType.PRICE,
                    simulated: bool = True, target: Decimal | None = None,
                    trailing: Decimal | None = None) -> str:
    row = await kit.strategies.create(user_id, symbol.lower(), StrategySpec(
        exchange="NSE", symbol=symbol, buy_time=time(9, 30), sell_time=time(15, 0),
        stop_loss_type=kind, stop_loss_value=stop, quantity=qty, broker="paper",
        is_simulated=simulated, target_price=target, trailing_sl_pct=trailing))
    return row.id


HAND_TICKS = [
    (_ns(9, 30), "NSE", "RELIANCE", 100_000), (_ns(9, 30), "NSE", "TCS", 350_000),
    (_ns(9, 30), "NSE", "INFY", 150_000),
    (_ns(10, 0), "NSE", "RELIANCE", 99_050), (_ns(10, 0), "NSE", "TCS", 348_000),
    (_ns(11, 0), "NSE", "RELIANCE", 101_500), (_ns(11, 0), "NSE", "INFY", 144_995),
    (_ns(11, 0), "NSE", "TCS", 352_000),
    (_ns(15, 0), "NSE", "RELIANCE", 101_000), (_ns(15, 0), "NSE", "TCS", 345_000),
    (_ns(15, 0), "NSE", "INFY", 152_000),
]


async def test_hand_computed_profit_loss_stop_and_no_entry(
        play_settings: Settings, sessions: async_sessionmaker[AsyncSession], redis: Redis,
        scratch: Redis, nc: NatsClient, js: JetStreamContext, tmp_path: Path) -> None:
    kit = _kit(play_settings, sessions, redis, nc, js)
    user = await create_user_for_tests(sessions, "play@example.com")
    profit = await _strategy(kit, user, "RELIANCE", 100, stop=Decimal("980"))
    loss = await _strategy(kit, user, "TCS", 10, stop=Decimal("3400"))
    stopped = await _strategy(kit, user, "INFY", 50, stop=Decimal("1450"))
    idle = await _strategy(kit, user, "HDFCBANK", 5, stop=Decimal("1000"))
    path = tmp_path / "day.csv"
    write_day(path, [(ts, [(ex, sym, p)]) for ts, ex, sym, p in HAND_TICKS])
    engine = ReplayEngine(play_settings, sessions, scratch)
    report = await engine.run(DAY, [profit, loss, stopped, idle],
                              group_by_instant(read_ticks(path)))
    by_id = {r.strategy_id: r for r in report.results}

    won = by_id[profit]
    assert (won.entry_price, won.exit_price, won.exit_reason) == ("1000.00", "1010.00",
                                                                  "sell_time")
    assert won.entry_at == "2026-11-25T09:30:00+05:30"
    assert won.exit_at == "2026-11-25T15:00:00+05:30"
    assert won.charges is not None
    # 100 x (1010 - 1000); brokerage 20 + 20 (capped), STT 0.025% of 101,000 = 25.25,
    # exchange 0.00297% of 201,000 = 5.97, SEBI 0.20, GST 18% of 46.17 = 8.31, stamp 3.00.
    assert (won.charges.brokerage, won.charges.stt, won.charges.exchange, won.charges.sebi,
            won.charges.gst, won.charges.stamp) == ("40.00", "25.25", "5.97", "0.20",
                                                    "8.31", "3.00")
    assert (won.gross_pnl, won.charges.total, won.net_pnl) == ("1000.00", "82.73", "917.27")
    assert (won.outcome, won.max_drawdown) == ("profit", "950.00")  # 1000 -> 990.50, x100

    lost = by_id[loss]
    # 10 x (3450 - 3500); brokerage 10.50 + 10.35, STT 8.63, exchange 2.06, SEBI 0.07,
    # GST 18% of 22.98 = 4.14, stamp 1.05.
    assert (lost.gross_pnl, lost.charges and lost.charges.total, lost.net_pnl) == (
        "-500.00", "36.80", "-536.80")
    assert (lost.outcome, lost.exit_reason, lost.max_drawdown) == ("loss", "sell_time",
                                                                   "700.00")

    hit = by_id[stopped]
    # The 11:00 tick at 1449.95 breaches the 1450 stop; the exit fills at that price.
    assert (hit.exit_reason, hit.exit_price, hit.exit_at) == (
        "stop_loss", "1449.95", "2026-11-25T11:00:00+05:30")
    assert (hit.gross_pnl, hit.charges and hit.charges.total, hit.net_pnl) == (
        "-2502.50", "72.92", "-2575.42")
    assert hit.max_drawdown == "2502.50"

    none = by_id[idle]
    assert (none.outcome, none.entry_price, none.gross_pnl, none.net_pnl, none.charges) == (
        "no_entry", None, "0.00", "0.00", None)

    async with sessions() as session:
        orders = list((await session.execute(select(Order).order_by(
            Order.strategy_id, Order.action))).scalars())
    assert all(o.is_simulated and o.broker_type == "paper" for o in orders)
    # Announced on the replay's bus: no live sweeper may announce them again.
    assert all(o.announced_at is not None for o in orders if o.completed_at is not None)
    assert {(o.strategy_id, o.action, o.status) for o in orders} >= {
        (profit, "BUY", "FILLED"), (profit, "SELL", "FILLED"), (stopped, "SL_EXIT", "FILLED"),
        (idle, "BUY", "REJECTED")}
    # Nothing of the replay reached the live streams or the live Redis db.
    assert (await js.stream_info("COMMANDS")).state.messages == 0
    assert await redis.get("ltp:NSE:INFY") is None


async def test_a_replayed_day_gives_identical_results_twice(
        play_settings: Settings, sessions: async_sessionmaker[AsyncSession], redis: Redis,
        scratch: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(play_settings, sessions, redis, nc, js)
    user = await create_user_for_tests(sessions, "twice@example.com")
    symbols = ["RELIANCE", "TCS", "INFY", "HDFCBANK"]
    ids = []
    for i, symbol in enumerate(symbols):
        ids.append(await _strategy(kit, user, symbol, 10 + i, stop=Decimal("0.5"),
                                   kind=StopLossType.PERCENT))
        ids.append(await _strategy(kit, user, symbol, 7, stop=Decimal("3"),
                                   kind=StopLossType.PERCENT, trailing=Decimal("0.4")))
    spec = DaySpec(day=DAY, instruments=[("NSE", s) for s in symbols], seed=42,
                   tick_prob=0.7)
    engine = ReplayEngine(play_settings, sessions, scratch)

    async def once() -> tuple[bytes, list[Any]]:
        report = await engine.run(DAY, ids, synthetic_day(spec))
        async with sessions() as session:
            orders = [(o.strategy_id, o.action, o.status, o.average_price, o.filled_quantity,
                       o.completed_at) for o in (await session.execute(select(Order).order_by(
                           Order.strategy_id, Order.action))).scalars()]
        return report.encoded(), orders

    first, first_orders = await once()
    second, second_orders = await once()
    assert first == second
    assert first_orders == second_orders
    reasons = {r.exit_reason for r in (await engine.run(DAY, ids, synthetic_day(spec))).results}
    assert "stop_loss" in reasons or "trailing_stop" in reasons  # the exits were exercised
    assert len(first_orders) >= len(ids) * 2


async def test_a_replay_refuses_a_real_strategy(
        play_settings: Settings, sessions: async_sessionmaker[AsyncSession], redis: Redis,
        scratch: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(play_settings, sessions, redis, nc, js)
    user = await create_user_for_tests(sessions, "real@example.com")
    real = await _strategy(kit, user, "RELIANCE", 1, stop=Decimal("980"), simulated=False)
    with pytest.raises(NotSimulated):
        await ReplayEngine(play_settings, sessions, scratch).run(DAY, [real], iter(()))
    async with sessions() as session:
        assert list((await session.execute(select(Order))).scalars()) == []


async def test_a_strategy_running_live_is_not_replayed(
        play_settings: Settings, sessions: async_sessionmaker[AsyncSession], redis: Redis,
        scratch: Redis, nc: NatsClient, js: JetStreamContext) -> None:
    kit = _kit(play_settings, sessions, redis, nc, js)
    user = await create_user_for_tests(sessions, "live@example.com")
    sid = await _strategy(kit, user, "RELIANCE", 1, stop=Decimal("980"))
    await kit.strategies.start(user, sid)
    with pytest.raises(ReplayRefused, match="running live"):
        await ReplayEngine(play_settings, sessions, scratch).run(DAY, [sid], iter(()))
