"""/playground: simulated strategies (ANA-4) — the real pipeline on the paper broker only.

A playground strategy is a strategy with `is_simulated = true` and the paper broker; it is
started and stopped like any other and runs through the same trigger, stop-loss watcher and
executor (which refuses to send a simulated order to any other broker). Its results are
read from its own orders; another user's strategy, or a real one, is 404 here. A replay
(`/playground/replays`) plays a synthetic or recorded trading day for some of them through
the same pipeline, run by the `playground` pipeline role; its results add the drawdown of
each hold and tell a trailing stop from a fixed one.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
from quart import Blueprint
from quart_schema import validate_request, validate_response

from core.clock import trading_day
from core.db.models import PlaygroundRun
from core.errors import NotFound, ValidationFailed
from core.playground.charges import ChargeRates
from core.playground.results import own_simulated_ids, results_of, simulated_strategy
from core.playground.trades import TradeResult
from core.rbac import Permission
from core.repos import playground_runs
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import PAPER, StrategySpec, parse_symbol
from web.blueprints.strategies import out
from web.resources import get_resources
from web.schemas.playground import (
    PlaygroundCreate,
    PlaygroundResults,
    ReplayCreate,
    ReplayOut,
    TradeOut,
)
from web.schemas.strategies import StrategyOut
from web.security import current_principal, require

blueprint = Blueprint("playground", __name__, url_prefix="/playground")


def _service() -> StrategyService:
    return get_resources().services.strategies


async def _own_simulated(strategy_id: str) -> str:
    """The caller's id once the strategy is known to be one of their simulated ones."""
    user_id = current_principal().user_id
    async with get_resources().sessions() as session:
        await simulated_strategy(session, user_id, strategy_id)
    return user_id


@blueprint.post("/strategies")
@require(Permission.STRATEGIES_OWN)
@validate_request(PlaygroundCreate)
@validate_response(StrategyOut, 201)
async def create(data: PlaygroundCreate) -> tuple[StrategyOut, int]:
    """Create a simulated strategy on the paper broker (status CREATED)."""
    exchange, symbol = parse_symbol(data.symbol)
    row = await _service().create(current_principal().user_id, data.name, StrategySpec(
        exchange=exchange, symbol=symbol, buy_time=data.buy_time, sell_time=data.sell_time,
        stop_loss_type=data.stop_loss.type, stop_loss_value=data.stop_loss.value,
        quantity=data.quantity, broker=PAPER, is_simulated=True,
        target_price=data.target_price, trailing_sl_pct=data.trailing_sl_pct))
    return out(row), 201


@blueprint.post("/strategies/<strategy_id>/start")
@require(Permission.STRATEGIES_OWN)
@validate_response(StrategyOut)
async def start(strategy_id: str) -> StrategyOut:
    """Start a simulation on live ticks: it trades at its times on the paper broker."""
    user_id = await _own_simulated(strategy_id)
    return out(await _service().start(user_id, strategy_id))


@blueprint.post("/strategies/<strategy_id>/stop")
@require(Permission.STRATEGIES_OWN)
@validate_response(StrategyOut)
async def stop(strategy_id: str) -> StrategyOut:
    """Stop a simulation (an open paper position is squared off)."""
    user_id = await _own_simulated(strategy_id)
    return out(await _service().stop(user_id, strategy_id))


@blueprint.get("/results/<strategy_id>")
@require(Permission.STRATEGIES_OWN)
@validate_response(PlaygroundResults)
async def results(strategy_id: str) -> PlaygroundResults:
    """Entry, exit, exit reason, P&L gross and after estimated charges, per trading day."""
    resources = get_resources()
    async with resources.sessions() as session:
        days = await results_of(session, current_principal().user_id, strategy_id,
                                ChargeRates.from_settings(resources.settings))
    return PlaygroundResults(
        strategy_id=strategy_id, days=[_day(d) for d in days],
        gross_pnl=sum((Decimal(d.gross_pnl) for d in days), Decimal("0.00")),
        charges=sum((Decimal(d.charges.total) for d in days if d.charges), Decimal("0.00")),
        net_pnl=sum((Decimal(d.net_pnl) for d in days), Decimal("0.00")))


@blueprint.post("/replays")
@require(Permission.STRATEGIES_OWN)
@validate_request(ReplayCreate)
@validate_response(ReplayOut, 202)
async def replay(data: ReplayCreate) -> tuple[ReplayOut, int]:
    """Replay a trading day for simulated strategies, as fast as possible (202: queued)."""
    user_id = current_principal().user_id
    if data.trading_day == trading_day(get_resources().clock):
        # Today belongs to live trading (and live simulations): replays are of other days.
        raise ValidationFailed("A replay cannot be of today", details=[
            {"field": "trading_day", "message": "choose a day other than today"}])
    async with get_resources().sessions() as session, session.begin():
        if not await own_simulated_ids(session, user_id, data.strategy_ids):
            raise NotFound("Simulated strategy not found")
        run = await playground_runs.add(session, user_id=user_id, day=data.trading_day,
                                        seed=data.seed, strategy_ids=data.strategy_ids,
                                        recording=data.recording)
        return _run(run), 202


@blueprint.get("/replays/<run_id>")
@require(Permission.STRATEGIES_OWN)
@validate_response(ReplayOut)
async def replay_status(run_id: str) -> ReplayOut:
    """A replay's status and, once DONE, its results (with the drawdown of each hold)."""
    async with get_resources().sessions() as session:
        run = await playground_runs.get_owned(session, current_principal().user_id, run_id)
    if run is None:
        raise NotFound("Replay not found")
    return _run(run)


def _run(run: PlaygroundRun) -> ReplayOut:
    results = None if run.results is None else [
        _day(msgspec.convert(r, TradeResult)) for r in run.results]
    return ReplayOut(id=run.id, status=run.status, trading_day=run.trading_day, seed=run.seed,
                     recording=run.recording, strategy_ids=list(run.strategy_ids),
                     ticks=run.ticks, error=run.error, results=results)


def _day(result: TradeResult) -> TradeOut:
    fields = {f: getattr(result, f) for f in result.__struct_fields__}
    fields["symbol"] = f"{result.exchange}:{result.symbol}"
    fields["charges"] = None if result.charges is None else {
        f: getattr(result.charges, f) for f in result.charges.__struct_fields__}
    return TradeOut.model_validate(fields)
