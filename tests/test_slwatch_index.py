"""The stop-loss index, levels, exit ladder and partition: pure code, no servers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

import pytest

from core.db.enums import OrderAction
from core.strategies.runtime import StrategyRuntime
from pipeline.slwatch.exits import RETRY_REASON, ExitLedger, reason_for
from pipeline.slwatch.index import StopIndex
from pipeline.slwatch.levels import LevelError, Levels, Trail, levels_of
from pipeline.slwatch.metrics import Reservoir
from pipeline.slwatch.partition import Partition, slot_of

SYM = "ticks.NSE.RELIANCE"
OTHER = "ticks.NSE.INFY"
DAY = "2026-11-25"


def levels(stop: int, target: int | None = None, trail_pct: str | None = None,
           entry: int | None = None, key: str = "p1") -> Levels:
    trail = None if trail_pct is None else Trail.of(Fraction(trail_pct))
    start = 0 if trail is None or entry is None else trail.stop_for(entry)
    return Levels(stop_paise=stop, target_paise=target, trail=trail, entry_paise=entry,
                  trail_start_paise=start, position_key=key)


def record(**changes: object) -> StrategyRuntime:
    values: dict[str, object] = dict(
        user_id="usr_1", strategy_id="str_1", rev=3, status="RUNNING", exchange="NSE",
        symbol="RELIANCE", buy_time="09:30:00", sell_time="15:00:00", stop_loss_type="PRICE",
        stop_loss_value="2400", quantity=1, broker="paper", is_simulated=False,
        position="BOUGHT", entry_price="2501.25", position_day=DAY)
    values.update(changes)
    return StrategyRuntime(**values)  # type: ignore[arg-type]


def ids(breaches: object) -> list[str]:
    return sorted(b.strategy_id for b in breaches)  # type: ignore[attr-defined]


# ---- index: stops -------------------------------------------------------------------------


def test_a_stop_breaches_at_equality_and_below_but_not_above() -> None:
    index: StopIndex[str] = StopIndex()
    index.arm(SYM, "a", levels(240_000), "ref-a")
    assert index.on_tick(SYM, 240_001) == ()
    [breach] = index.on_tick(SYM, 240_000)
    assert (breach.strategy_id, breach.ref, breach.kind) == ("a", "ref-a", "stop_loss")
    assert (breach.level_paise, breach.ltp_paise) == (240_000, 240_000)
    index.arm(SYM, "b", levels(240_000), "ref-b")
    assert ids(index.on_tick(SYM, 100)) == ["b"]


def test_a_tick_takes_every_breached_stop_of_its_symbol_only() -> None:
    index: StopIndex[str] = StopIndex()
    for sid, stop in (("a", 100), ("b", 200), ("c", 200), ("d", 300), ("e", 400)):
        index.arm(SYM, sid, levels(stop), sid)
    index.arm(OTHER, "x", levels(1_000), "x")
    assert ids(index.on_tick(SYM, 200)) == ["b", "c", "d", "e"]
    assert sorted(index.strategy_ids()) == ["a", "x"]
    assert ids(index.on_tick(SYM, 150)) == []
    assert ids(index.on_tick(SYM, 99)) == ["a"]
    assert not index.watches(SYM)
    assert index.watches(OTHER)


def test_repeated_breaching_ticks_breach_once() -> None:
    index: StopIndex[str] = StopIndex()
    index.arm(SYM, "a", levels(500, target=900), "a")
    assert len(index.on_tick(SYM, 400)) == 1
    assert index.on_tick(SYM, 300) == ()
    assert index.on_tick(SYM, 1_000) == ()  # its target left with its stop
    assert "a" not in index


def test_rearming_replaces_the_levels_and_disarm_removes_them() -> None:
    index: StopIndex[str] = StopIndex()
    index.arm(SYM, "a", levels(500, target=900), "a")
    index.arm(SYM, "a", levels(450, target=950), "a2")
    assert (index.stop_of("a"), index.target_of("a"), index.ref_of("a")) == (450, 950, "a2")
    assert index.on_tick(SYM, 460) == ()
    assert index.on_tick(SYM, 920) == ()
    assert index.disarm("a")
    assert not index.disarm("a")
    assert index.on_tick(SYM, 1) == ()
    assert len(index) == 0
    index.arm(SYM, "a", levels(500), "a")
    index.arm(OTHER, "a", levels(500), "a")  # moved to another symbol
    assert index.on_tick(SYM, 1) == ()
    assert ids(index.on_tick(OTHER, 1)) == ["a"]


def test_equal_stops_are_told_apart_on_removal() -> None:
    index: StopIndex[str] = StopIndex()
    for sid in "abc":
        index.arm(SYM, sid, levels(500), sid)
    index.disarm("b")
    assert ids(index.on_tick(SYM, 500)) == ["a", "c"]


# ---- index: targets and trailing stops ------------------------------------------------------


def test_a_target_breaches_at_equality_and_above() -> None:
    index: StopIndex[str] = StopIndex()
    index.arm(SYM, "a", levels(400, target=600), "a")
    index.arm(SYM, "b", levels(400, target=700), "b")
    assert index.on_tick(SYM, 599) == ()
    [breach] = index.on_tick(SYM, 600)
    assert (breach.strategy_id, breach.kind, breach.level_paise) == ("a", "target", 600)
    assert index.stop_of("a") is None
    assert ids(index.on_tick(SYM, 10_000)) == ["b"]


def test_the_trailing_stop_follows_new_highs_and_never_moves_down() -> None:
    index: StopIndex[str] = StopIndex()
    # Entry ₹100.00, fixed stop ₹95.00, trailing 2 %: the first trailing stop is ₹98.00.
    index.arm(SYM, "t", levels(9_500, trail_pct="2", entry=10_000), "t")
    index.arm(SYM, "f", levels(9_000), "f")
    assert index.stop_of("t") == 9_800
    assert index.on_tick(SYM, 9_900) == ()
    assert index.on_tick(SYM, 11_000) == ()  # a new high: 110.00 * 0.98 = 107.80
    assert (index.stop_of("t"), index.high_of("t")) == (10_780, 11_000)
    assert index.on_tick(SYM, 10_800) == ()  # a lower tick leaves the stop where it is
    assert index.on_tick(SYM, 10_900) == ()
    assert index.stop_of("t") == 10_780
    assert index.on_tick(SYM, 10_999) == ()
    assert index.on_tick(SYM, 11_050) == ()  # 110.50 * 0.98 = 108.29
    assert index.stop_of("t") == 10_829
    [breach] = index.on_tick(SYM, 10_829)
    assert (breach.strategy_id, breach.kind, breach.level_paise) == ("t", "trailing", 10_829)
    assert index.stop_of("f") == 9_000  # a fixed stop never trails


def test_a_trailing_stop_below_the_fixed_one_breaches_as_a_stop_loss() -> None:
    index: StopIndex[str] = StopIndex()
    index.arm(SYM, "t", levels(9_900, trail_pct="5", entry=10_000), "t")
    assert index.stop_of("t") == 9_900
    [breach] = index.on_tick(SYM, 9_900)
    assert breach.kind == "stop_loss"


def test_several_trailing_entries_keep_their_own_highs_and_order() -> None:
    index: StopIndex[str] = StopIndex()
    index.arm(SYM, "wide", levels(1, trail_pct="10", entry=10_000), "wide")
    index.arm(SYM, "tight", levels(1, trail_pct="1", entry=10_000), "tight")
    index.on_tick(SYM, 12_000)
    index.arm(SYM, "late", levels(1, trail_pct="1", entry=11_000), "late")
    assert index.high_of("late") == 11_000
    assert index.on_tick(SYM, 11_900) == ()  # not a high for "wide"/"tight", but for "late"
    assert (index.high_of("late"), index.stop_of("late")) == (11_900, 11_781)
    assert (index.high_of("tight"), index.stop_of("tight")) == (12_000, 11_880)
    assert ids(index.on_tick(SYM, 11_850)) == ["tight"]
    assert ids(index.on_tick(SYM, 11_781)) == ["late"]
    assert ids(index.on_tick(SYM, 10_800)) == ["wide"]


def test_rearming_the_same_position_keeps_the_trailing_high() -> None:
    index: StopIndex[str] = StopIndex()
    index.arm(SYM, "t", levels(9_000, trail_pct="2", entry=10_000), "t")
    index.on_tick(SYM, 12_000)
    index.arm(SYM, "t", levels(9_500, trail_pct="3", entry=10_000), "t")  # an edit
    assert (index.high_of("t"), index.stop_of("t")) == (12_000, 11_640)
    index.on_tick(SYM, 11_000)
    index.arm(SYM, "t", levels(9_500, trail_pct="3", entry=10_000), "t")  # re-armed
    assert index.stop_of("t") == 11_640
    index.arm(SYM, "t", levels(9_500, trail_pct="3", entry=10_000, key="p2"), "t")
    assert (index.high_of("t"), index.stop_of("t")) == (10_000, 9_700)  # a new position


def test_a_stop_and_a_target_on_one_tick_exit_once() -> None:
    index: StopIndex[str] = StopIndex()
    index.arm(SYM, "odd", levels(700, target=600), "odd")
    [breach] = index.on_tick(SYM, 650)
    assert breach.kind == "stop_loss"


# ---- levels -------------------------------------------------------------------------------


def test_price_levels_in_paise() -> None:
    got = levels_of(record(stop_loss_value="2400.5", target_price="2600.005"))
    assert got is not None
    assert (got.stop_paise, got.target_paise, got.trail) == (240_050, 260_001, None)
    assert got.entry_paise == 250_125


def test_a_percent_stop_is_below_the_entry_rounded_down_to_the_paise() -> None:
    got = levels_of(record(stop_loss_type="PERCENT", stop_loss_value="1",
                           entry_price="123.45"))
    assert got is not None
    assert got.stop_paise == 12_221  # 122.2155: a tick at 122.22 is above the exact stop
    exact = levels_of(record(stop_loss_type="PERCENT", stop_loss_value="1.5",
                             entry_price="100"))
    assert exact is not None
    assert exact.stop_paise == 9_850


def test_trailing_levels_start_from_the_exact_entry() -> None:
    got = levels_of(record(trailing_sl_pct="2"))
    assert got is not None
    assert got.trail is not None
    assert got.trail_start_paise == 245_122  # 2501.25 * 0.98 = 2451.225
    assert got.trail.stop_for(260_000) == 254_800


def test_only_a_bought_position_has_levels() -> None:
    for position in ("NONE", "SOLD", "SL_HIT"):
        assert levels_of(record(position=position)) is None
    assert levels_of(record(status="STOPPED")) is not None  # an open position is protected
    bare = levels_of(record(entry_price=None))
    assert bare is not None
    assert bare.stop_paise == 240_000  # a price stop needs no entry price
    with pytest.raises(LevelError):
        levels_of(record(entry_price=None, stop_loss_type="PERCENT", stop_loss_value="1"))
    with pytest.raises(LevelError):
        levels_of(record(stop_loss_value="NaN"))


# ---- the exit ladder, partitions, the reservoir ---------------------------------------------


def test_the_exit_ladder_moves_on_after_an_action_was_used() -> None:
    ledger = ExitLedger()
    assert ledger.choose("s", DAY, "stop_loss") is OrderAction.SL_EXIT
    ledger.begin("s", DAY, OrderAction.SL_EXIT)
    assert ledger.in_flight("s")
    assert not ledger.settle("s", DAY, OrderAction.SELL)
    assert ledger.settle("s", DAY, OrderAction.SL_EXIT)
    assert not ledger.in_flight("s")
    assert ledger.choose("s", DAY, "trailing") is OrderAction.SQUARE_OFF
    assert ledger.choose("s", DAY, "target") is OrderAction.TARGET_EXIT
    ledger.mark_used("s", DAY, OrderAction.SQUARE_OFF)
    assert ledger.choose("s", DAY, "stop_loss") is OrderAction.TARGET_EXIT
    ledger.mark_used("s", DAY, OrderAction.TARGET_EXIT)
    assert ledger.choose("s", DAY, "stop_loss") is None
    assert ledger.choose("s", "2026-11-26", "stop_loss") is OrderAction.SL_EXIT  # a new day
    ledger.mark_used("s", "2026-11-24", OrderAction.SL_EXIT)  # old news
    assert ledger.choose("s", DAY, "target") is None
    assert reason_for("stop_loss", OrderAction.SL_EXIT) == "stop_loss"
    assert reason_for("trailing", OrderAction.SL_EXIT) == "trailing"
    assert reason_for("stop_loss", OrderAction.SQUARE_OFF) == RETRY_REASON


def test_partitions_split_symbols_stably_and_completely() -> None:
    symbols = [f"SYM{i}" for i in range(200)]
    parts = [Partition.parse(f"{i}/3") for i in range(3)]
    for symbol in symbols:
        owners = [p for p in parts if p.owns("NSE", symbol)]
        assert len(owners) == 1
        assert owners[0].index == slot_of("NSE", symbol, 3)
        assert owners[0].owns_subject(f"ticks.NSE.{symbol}")
    assert {slot_of("NSE", s, 3) for s in symbols} == {0, 1, 2}
    assert slot_of("NSE", "RELIANCE", 7) == slot_of("NSE", "RELIANCE", 7)
    assert Partition().owns("NSE", "ANY")
    assert not parts[0].owns_subject("events.x")


def test_the_reservoir_is_bounded_and_keeps_a_sample() -> None:
    reservoir = Reservoir(size=100, seed=1)
    for value in range(10_000):
        reservoir.add(value)
    assert reservoir.seen == 10_000
    sample = reservoir.values()
    assert len(sample) == 100
    assert sample[0] < 2_000 and sample[-1] > 8_000
    assert reservoir.percentile(100) == sample[-1]
    assert reservoir.percentile(1) == sample[0]
    assert Reservoir(5).percentile(50) is None


# ---- the index against a plain model, on random operations ----------------------------------


@dataclass
class _Plain:
    instrument: str
    stop: int
    target: int | None
    trail: Trail | None
    high: int
    tstop: int
    key: str


class _Model:
    """Every entry checked one by one: obviously right, and slow."""

    def __init__(self) -> None:
        self.entries: dict[str, _Plain] = {}
        self.memory: dict[str, tuple[str, int]] = {}

    def arm(self, instrument: str, sid: str, lv: Levels) -> None:
        old = self.entries.get(sid)
        high = lv.entry_paise or 0
        if lv.trail is not None:
            if old is not None and old.trail is not None and old.key == lv.position_key:
                high = max(high, old.high)
            elif sid in self.memory and self.memory[sid][0] == lv.position_key:
                high = max(high, self.memory[sid][1])
        if old is not None:
            self._drop(sid)
        self.memory.pop(sid, None)
        tstop = 0 if lv.trail is None else max(lv.trail_start_paise,
                                               lv.trail.stop_for(high) if high else 0)
        self.entries[sid] = _Plain(instrument, lv.stop_paise, lv.target_paise, lv.trail, high,
                                   tstop, lv.position_key)

    def _drop(self, sid: str) -> None:
        e = self.entries.pop(sid)
        if e.trail is not None and e.high:
            self.memory[sid] = (e.key, e.high)

    def disarm(self, sid: str) -> bool:
        if sid not in self.entries:
            return False
        self._drop(sid)
        return True

    def stop_of(self, sid: str) -> int | None:
        e = self.entries.get(sid)
        return None if e is None else max(e.stop, e.tstop)

    def high_of(self, sid: str) -> int | None:
        e = self.entries.get(sid)
        return None if e is None or e.trail is None else e.high

    def tick(self, instrument: str, ltp: int) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        for sid, e in self.entries.items():
            if e.instrument != instrument:
                continue
            if e.trail is not None and ltp > e.high:
                e.high = ltp
                e.tstop = max(e.tstop, e.trail.stop_for(ltp))
            if max(e.stop, e.tstop) >= ltp:
                out.append((sid, "trailing" if e.tstop > e.stop else "stop_loss",
                            max(e.stop, e.tstop)))
            elif e.target is not None and e.target <= ltp:
                out.append((sid, "target", e.target))
        for sid, _, _ in out:
            self._drop(sid)
        return sorted(out)


@pytest.mark.parametrize("seed", range(6))
def test_the_index_agrees_with_a_plain_model(seed: int) -> None:
    rng = random.Random(seed)
    index: StopIndex[str] = StopIndex()
    model = _Model()
    sids = [f"s{i}" for i in range(40)]
    instruments = [SYM, OTHER]
    prices = {SYM: 1_000, OTHER: 1_000}
    for step in range(6_000):
        roll = rng.random()
        if roll < 0.25:
            trail = Trail.of(Fraction(rng.choice(["0.5", "1", "2", "5", "10", "12.5"]))) \
                if rng.random() < 0.6 else None
            entry = rng.choice([None, rng.randint(950, 1_050)])
            start = 0
            if trail is not None and entry is not None:
                # Half a paisa above the rounded entry, as a real fill can be.
                start = int(Fraction(2 * entry + 1, 2) * trail.num // trail.den)
            lv = Levels(stop_paise=rng.randint(800, 1_000),
                        target_paise=rng.choice([None, rng.randint(1_000, 1_300)]),
                        trail=trail, entry_paise=entry, trail_start_paise=start,
                        position_key=rng.choice(["p1", "p2"]))
            instrument, sid = rng.choice(instruments), rng.choice(sids)
            index.arm(instrument, sid, lv, sid)
            model.arm(instrument, sid, lv)
        elif roll < 0.32:
            sid = rng.choice(sids)
            assert index.disarm(sid) == model.disarm(sid)
        else:
            instrument = rng.choice(instruments)
            prices[instrument] = max(700, min(1_400, prices[instrument]
                                              + rng.randint(-15, 16)))
            got = sorted((b.strategy_id, b.kind, b.level_paise)
                         for b in index.on_tick(instrument, prices[instrument]))
            assert got == model.tick(instrument, prices[instrument]), step
        for sid in sids:
            assert index.stop_of(sid) == model.stop_of(sid), (step, sid)
            assert index.high_of(sid) == model.high_of(sid), (step, sid)
        assert sorted(index.strategy_ids()) == sorted(model.entries)
