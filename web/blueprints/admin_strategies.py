"""/admin/strategies: every user's strategies, detail, force-stop (ADM-2); stops are audited."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from core.admin.strategies import AdminStrategies
from core.db.models import Order
from core.rbac import Permission
from core.repos.admin_strategies import AdminStrategyFilter, OwnedStrategy
from web.blueprints.strategies import out
from web.resources import get_resources
from web.schemas.admin_strategies import (
    AdminStrategyDetail,
    AdminStrategyOut,
    AdminStrategyPage,
    AdminStrategyQuery,
    ForceStopOut,
    ForceStopRequest,
)
from web.schemas.orders import OrderOut
from web.security import actor, require

blueprint = Blueprint("admin_strategies", __name__, url_prefix="/admin/strategies")


def _service() -> AdminStrategies:
    return get_resources().services.admin_strategies


def admin_out(owned: OwnedStrategy) -> AdminStrategyOut:
    """The admin view of a strategy."""
    row = owned.strategy
    return AdminStrategyOut.model_construct(
        **dict(out(row)), user_id=row.user_id, user_email=owned.user_email,
        broker_type=owned.broker_type, last_action=row.last_action,
        status_reason=row.status_reason, consecutive_failures=row.consecutive_failures)


def order_out(row: Order) -> OrderOut:
    """The public view of an order row."""
    return OrderOut.model_validate(dict(
        id=row.id, strategy_id=row.strategy_id, trading_day=row.trading_day,
        action=row.action, side=row.side, symbol=f"{row.exchange}:{row.symbol}",
        quantity=row.quantity, broker=row.broker_credential_id or row.broker_type,
        is_simulated=row.is_simulated, client_tag=row.client_tag,
        broker_order_id=row.broker_order_id, status=row.status,
        status_reason=row.status_reason, average_price=row.average_price,
        filled_quantity=row.filled_quantity, attempts=row.attempts,
        created_at=row.created_at, sent_at=row.sent_at, completed_at=row.completed_at))


@blueprint.get("")
@require(Permission.ADMIN_STRATEGIES)
@validate_querystring(AdminStrategyQuery)
@validate_response(AdminStrategyPage)
async def list_strategies(query_args: AdminStrategyQuery) -> AdminStrategyPage:
    """Every user's strategies, newest first, by user, status, broker, symbol, simulation."""
    exchange, symbol = (query_args.symbol.split(":", 1) if query_args.symbol
                        else (None, None))
    page = await _service().page(AdminStrategyFilter(
        user_id=query_args.user_id, status=query_args.status, broker=query_args.broker,
        exchange=exchange, symbol=symbol, is_simulated=query_args.simulated),
        limit=query_args.limit, cursor=query_args.cursor)
    return AdminStrategyPage(items=[admin_out(o) for o in page.items],
                             next_cursor=page.next_cursor)


@blueprint.get("/<strategy_id>")
@require(Permission.ADMIN_STRATEGIES)
@validate_response(AdminStrategyDetail)
async def get_strategy(strategy_id: str) -> AdminStrategyDetail:
    """One strategy of any user with its order history."""
    detail = await _service().detail(strategy_id)
    return AdminStrategyDetail(strategy=admin_out(detail.owned),
                               orders=[order_out(o) for o in detail.orders])


@blueprint.post("/<strategy_id>/force-stop")
@require(Permission.ADMIN_STRATEGIES)
@validate_request(ForceStopRequest)
@validate_response(ForceStopOut)
async def force_stop(strategy_id: str, data: ForceStopRequest) -> ForceStopOut:
    """Stop a strategy and square off its open position now (audited)."""
    service = _service()
    done = await service.force_stop(actor(), strategy_id, data.reason)
    detail = await service.detail(done.strategy.id)
    return ForceStopOut(strategy=admin_out(detail.owned), stopped=done.stopped,
                        square_off=done.square_off)
