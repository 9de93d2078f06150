"""/strategies: a user's own strategies (STR-1…STR-3); another user's are 404."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, time
from decimal import Decimal
from typing import Any, Final, Protocol

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from core import error_codes
from core.db.enums import Position, StopLossType, StrategyStatus
from core.errors import ValidationFailed
from core.rbac import Permission
from core.repos.strategies import SortKey, StrategyFilter
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import PAPER, StrategySpec, parse_symbol
from web.resources import get_resources
from web.schemas.strategies import (
    BulkFailure,
    BulkIds,
    BulkResult,
    StopLoss,
    StrategyCreate,
    StrategyOut,
    StrategyPage,
    StrategyQuery,
    StrategyStatusOut,
    StrategyUpdate,
)
from web.security import current_principal, require

blueprint = Blueprint("strategies", __name__, url_prefix="/strategies")

PAISE: Final = Decimal("0.01")


def _plain(value: Decimal | None) -> Decimal | None:
    # The same number reads the same whether it came from the request or the database.
    return None if value is None else value.normalize()


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(PAISE)


class StrategyView(Protocol):
    """What `out` reads: a Strategy entity or a list row of the same columns."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def exchange(self) -> str: ...

    @property
    def symbol(self) -> str: ...

    @property
    def buy_time(self) -> time: ...

    @property
    def sell_time(self) -> time: ...

    @property
    def stop_loss_type(self) -> str: ...

    @property
    def stop_loss_value(self) -> Decimal: ...

    @property
    def quantity(self) -> int: ...

    @property
    def broker_credential_id(self) -> str | None: ...

    @property
    def target_price(self) -> Decimal | None: ...

    @property
    def trailing_sl_pct(self) -> Decimal | None: ...

    @property
    def is_simulated(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def position(self) -> str: ...

    @property
    def rev(self) -> int: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def updated_at(self) -> datetime: ...

    @property
    def started_at(self) -> datetime | None: ...

    @property
    def stopped_at(self) -> datetime | None: ...



def out(row: StrategyView) -> StrategyOut:
    """The public view of a row (built without re-validation: the row obeys the schema's
    rules through the database's constraints, and lists build fifty of these)."""
    return StrategyOut.model_construct(
        id=row.id, name=row.name, symbol=f"{row.exchange}:{row.symbol}", buy_time=row.buy_time,
        sell_time=row.sell_time,
        stop_loss=StopLoss.model_construct(type=StopLossType(row.stop_loss_type),
                                           value=row.stop_loss_value.normalize()),
        quantity=row.quantity, broker_credential_id=row.broker_credential_id or PAPER,
        target_price=_money(row.target_price), trailing_sl_pct=_plain(row.trailing_sl_pct),
        is_simulated=row.is_simulated, status=StrategyStatus(row.status),
        position=Position(row.position),
        rev=row.rev, created_at=row.created_at, updated_at=row.updated_at,
        started_at=row.started_at, stopped_at=row.stopped_at)


def _service() -> StrategyService:
    return get_resources().services.strategies


def _encode_cursor(sort: SortKey, row: StrategyView) -> str:
    value: Any = {"created": row.id, "updated": row.updated_at.isoformat(),
                  "name": row.name}[sort]
    raw = json.dumps([sort, value, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(sort: SortKey, cursor: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, last_id = json.loads(raw)
        if kind != sort or not isinstance(last_id, str):
            raise ValueError(kind)
        return (datetime.fromisoformat(value) if sort == "updated" else value), last_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise ValidationFailed("Invalid cursor for this sort order",
                               code=error_codes.VAL_BAD_QUERY,
                               details=[{"field": "cursor", "message": "invalid cursor"}]
                               ) from exc


@blueprint.post("")
@require(Permission.STRATEGIES_OWN)
@validate_request(StrategyCreate)
@validate_response(StrategyOut, 201)
async def create(data: StrategyCreate) -> tuple[StrategyOut, int]:
    """Create a strategy (status CREATED)."""
    exchange, symbol = parse_symbol(data.symbol)
    row = await _service().create(current_principal().user_id, data.name, StrategySpec(
        exchange=exchange, symbol=symbol, buy_time=data.buy_time,
        sell_time=data.sell_time, stop_loss_type=data.stop_loss.type,
        stop_loss_value=data.stop_loss.value, quantity=data.quantity,
        broker=data.broker_credential_id, is_simulated=data.is_simulated,
        target_price=data.target_price, trailing_sl_pct=data.trailing_sl_pct))
    return out(row), 201


@blueprint.get("")
@require(Permission.STRATEGIES_OWN)
@validate_querystring(StrategyQuery)
@validate_response(StrategyPage)
async def list_strategies(query_args: StrategyQuery) -> StrategyPage:
    """The caller's strategies, filtered and sorted, by cursor."""
    descending = query_args.sort.startswith("-")
    sort: SortKey = query_args.sort.lstrip("-")  # type: ignore[assignment]
    exchange = symbol = None
    if query_args.symbol:
        exchange, symbol = parse_symbol(query_args.symbol)
    after = _decode_cursor(sort, query_args.cursor) if query_args.cursor else None
    rows = await _service().page(
        current_principal().user_id,
        StrategyFilter(status=query_args.status, exchange=exchange, symbol=symbol),
        sort=sort, descending=descending, limit=query_args.limit + 1, after=after)
    page = rows[:query_args.limit]
    more = len(rows) > query_args.limit
    return StrategyPage(items=[out(r) for r in page],
                        next_cursor=_encode_cursor(sort, page[-1]) if more and page else None)


@blueprint.post("/bulk/start")
@require(Permission.STRATEGIES_OWN)
@validate_request(BulkIds)
@validate_response(BulkResult)
async def bulk_start(data: BulkIds) -> BulkResult:
    """Start up to 500 of the caller's strategies in one call; each failure is listed."""
    outcome = await _service().start_many(current_principal().user_id, data.ids)
    return BulkResult(started=[out(row) for row in outcome.started],
                      failed=[BulkFailure(id=sid, error_code=exc.code.code, message=exc.message)
                              for sid, exc in outcome.failed])


@blueprint.get("/<strategy_id>")
@require(Permission.STRATEGIES_OWN)
@validate_response(StrategyOut)
async def get_one(strategy_id: str) -> StrategyOut:
    """One strategy."""
    return out(await _service().get(current_principal().user_id, strategy_id))


@blueprint.put("/<strategy_id>")
@require(Permission.STRATEGIES_OWN)
@validate_request(StrategyUpdate)
@validate_response(StrategyOut)
async def update(strategy_id: str, data: StrategyUpdate) -> StrategyOut:
    """Change fields; a running strategy's stop-loss, target and times are re-armed live."""
    given = data.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            if key in ("target_price", "trailing_sl_pct"):
                changes[key] = None  # clearing an optional exit is allowed
            continue
        if key == "symbol":
            changes["exchange"], changes["symbol"] = parse_symbol(value)
        elif key == "stop_loss":
            changes["stop_loss_type"] = data.stop_loss.type  # type: ignore[union-attr]
            changes["stop_loss_value"] = data.stop_loss.value  # type: ignore[union-attr]
        elif key == "broker_credential_id":
            changes["broker"] = value
        else:
            changes[key] = value
    if not changes:
        raise ValidationFailed("Nothing to change", details=[{"field": "", "message":
                                                             "give at least one field"}])
    return out(await _service().update(current_principal().user_id, strategy_id, changes))


@blueprint.delete("/<strategy_id>")
@require(Permission.STRATEGIES_OWN)
async def delete(strategy_id: str) -> tuple[str, int]:
    """Delete a strategy that is not running."""
    await _service().delete(current_principal().user_id, strategy_id)
    return "", 204


@blueprint.post("/<strategy_id>/start")
@require(Permission.STRATEGIES_OWN)
@validate_response(StrategyOut)
async def start(strategy_id: str) -> StrategyOut:
    """Start: the pipeline arms the strategy for its next trading day's times."""
    return out(await _service().start(current_principal().user_id, strategy_id))


@blueprint.post("/<strategy_id>/stop")
@require(Permission.STRATEGIES_OWN)
@validate_response(StrategyOut)
async def stop(strategy_id: str) -> StrategyOut:
    """Stop: the pipeline disarms the strategy and squares off an open position."""
    return out(await _service().stop(current_principal().user_id, strategy_id))


@blueprint.post("/<strategy_id>/square-off")
@require(Permission.STRATEGIES_OWN)
@validate_response(StrategyOut, 202)
async def square_off(strategy_id: str) -> tuple[StrategyOut, int]:
    """Exit the open position now at market, whatever the strategy's status (202: queued)."""
    return out(await _service().square_off(current_principal().user_id, strategy_id)), 202


@blueprint.get("/<strategy_id>/status")
@require(Permission.STRATEGIES_OWN)
@validate_response(StrategyStatusOut)
async def status(strategy_id: str) -> StrategyStatusOut:
    """Status, position and whether the runtime copy is live."""
    user_id = current_principal().user_id
    row = await _service().get(user_id, strategy_id)
    live = await _service().runtime(user_id, strategy_id)
    return StrategyStatusOut(id=row.id, status=row.status, position=row.position,
                             last_action=row.last_action, entry_price=_money(row.entry_price),
                             rev=row.rev, live=live is not None and live.rev == row.rev,
                             status_reason=row.status_reason)
