"""Charges, trade results, the day generator and the tick recorder: pure, no servers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np

from core.clock import IST
from core.messages import Tick
from core.playground.charges import ChargeRates, charges
from core.playground.daygen import DaySpec, synthetic_day, write_day
from core.playground.trades import Fill, drawdown_paise, exit_reason, trade_result
from core.settings import Settings
from pipeline.feed.recorder import TickRecorder
from pipeline.feed.replay import read_ticks

RATES = ChargeRates()
DAY = date(2026, 11, 25)


def test_charges_of_a_round_trip_by_hand() -> None:
    # Buy 100 at 1000, sell at 1010: brokerage 0.03% capped at 20 a side; STT 0.025% of
    # 101,000; exchange 0.00297% and SEBI 0.0001% of 201,000; GST 18% of brokerage +
    # exchange + SEBI; stamp 0.003% of 100,000.
    c = charges(Decimal(100_000), Decimal(101_000), RATES)
    assert (c.brokerage, c.stt, c.exchange, c.sebi, c.gst, c.stamp, c.total) == (
        Decimal("40.00"), Decimal("25.25"), Decimal("5.97"), Decimal("0.20"),
        Decimal("8.31"), Decimal("3.00"), Decimal("82.73"))
    small = charges(Decimal(5_000), Decimal(0), RATES)  # 0.03% of 5,000 is under the cap
    assert (small.brokerage, small.stt, small.stamp) == (Decimal("1.50"), Decimal("0.00"),
                                                         Decimal("0.15"))


def test_rates_come_from_settings() -> None:
    settings = Settings(env="dev", charges_brokerage_cap="0", charges_stt_sell_rate="0.001")
    rates = ChargeRates.from_settings(settings)
    c = charges(Decimal(100_000), Decimal(100_000), rates)
    assert (c.brokerage, c.stt) == (Decimal("0.00"), Decimal("100.00"))


def test_results_of_no_entry_open_and_loss() -> None:
    none = trade_result(strategy_id="s", day=DAY, exchange="NSE", symbol="X", quantity=5,
                        entry=None, exit=None, reason=None, rates=RATES)
    assert (none.outcome, none.charges, none.net_pnl) == ("no_entry", None, "0.00")
    at = datetime(2026, 11, 25, 9, 30, tzinfo=IST)
    entry = Fill(Decimal("200.00"), 10, at)
    open_ = trade_result(strategy_id="s", day=DAY, exchange="NSE", symbol="X", quantity=10,
                         entry=entry, exit=None, reason=None, rates=RATES, drawdown=150)
    # Only the buy leg's charges so far: brokerage 0.60, exchange 0.06, GST 0.12, stamp 0.06.
    assert (open_.outcome, open_.gross_pnl, open_.net_pnl, open_.max_drawdown) == (
        "open", "0.00", "-0.84", "15.00")
    loss = trade_result(strategy_id="s", day=DAY, exchange="NSE", symbol="X", quantity=10,
                        entry=entry, exit=Fill(Decimal("198.00"), 10, at), reason="stop_loss",
                        rates=RATES)
    assert (loss.outcome, loss.gross_pnl) == ("loss", "-20.00")


def test_exit_reasons_and_drawdown() -> None:
    assert exit_reason("SELL", "stop") == "sell_time"
    assert exit_reason("SL_EXIT", "trailing") == "trailing_stop"
    assert exit_reason("SQUARE_OFF", "stop") == "stop_loss"  # a retried stop
    assert exit_reason("TARGET_EXIT") == "target"
    assert drawdown_paise([100, 90, 120, 95, 130]) == 25
    assert drawdown_paise([100]) == 0


def test_a_seed_is_a_day(tmp_path: Path) -> None:
    spec = DaySpec(day=DAY, instruments=[("NSE", "A"), ("NSE", "B")], seed=9, tick_prob=0.5)
    one, two = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    assert write_day(one, synthetic_day(spec)) == write_day(two, synthetic_day(spec)) > 0
    assert one.read_bytes() == two.read_bytes()
    other = tmp_path / "3.jsonl"
    write_day(other, synthetic_day(DaySpec(day=DAY, instruments=spec.instruments, seed=10)))
    assert other.read_bytes() != one.read_bytes()


def test_a_synthetic_day_is_busy_at_the_open_and_the_close() -> None:
    spec = DaySpec(day=DAY, instruments=[("NSE", f"S{i}") for i in range(20)], seed=1)
    prices = np.array([[p for _, _, p in rows] for _, rows in synthetic_day(spec)], float)
    assert prices.shape == (22_500, 20)  # 6 h 15 min of seconds
    moves = np.abs(np.diff(np.log(prices), axis=0)).mean(axis=1)
    first, lunch, last = moves[:900].mean(), moves[9000:11000].mean(), moves[-900:].mean()
    assert first > 1.5 * lunch and last > 1.2 * lunch
    assert (prices % 5 == 0).all()  # on the 5-paise tick


def test_the_recorder_writes_what_replay_reads(tmp_path: Path) -> None:
    path = tmp_path / "rec" / "day.jsonl"
    recorder = TickRecorder(path)
    ticks = [Tick(exchange="NSE", symbol="RELIANCE", ltp_paise=250_000 + i,
                  exchange_ts=1_000 + i, received_ts=2_000 + i) for i in range(3)]
    for tick in ticks:
        recorder.record(tick)
    recorder.close()
    recorder.record(ticks[0])  # after close: ignored
    assert list(read_ticks(path)) == [(t.exchange_ts, "NSE", "RELIANCE", t.ltp_paise)
                                      for t in ticks]
