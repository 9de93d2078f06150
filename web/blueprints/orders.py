"""/orders: a user's own orders and their broker attempts (RUN-6); another's are 404."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from core.db.models import Order, OrderLog
from core.errors import NotFound
from core.rbac import Permission
from core.repos import orders as repo
from web.resources import get_resources
from web.schemas.orders import OrderAttemptOut, OrderDetail, OrderOut, OrderPage, OrderQuery
from web.security import current_principal, require

blueprint = Blueprint("orders", __name__, url_prefix="/orders")


def _fields(row: Order) -> dict[str, object]:
    return dict(
        id=row.id, strategy_id=row.strategy_id, trading_day=row.trading_day,
        action=row.action, side=row.side, symbol=f"{row.exchange}:{row.symbol}",
        quantity=row.quantity, broker=row.broker_credential_id or row.broker_type,
        is_simulated=row.is_simulated, client_tag=row.client_tag,
        broker_order_id=row.broker_order_id, status=row.status,
        status_reason=row.status_reason, average_price=row.average_price,
        filled_quantity=row.filled_quantity, attempts=row.attempts,
        created_at=row.created_at, sent_at=row.sent_at, completed_at=row.completed_at)


def _attempt(log: OrderLog) -> OrderAttemptOut:
    return OrderAttemptOut(
        attempt=log.attempt, outcome=log.outcome, status=log.status, request=log.request,
        response=log.response, error=log.error,
        latency_ms=None if log.latency_us is None else log.latency_us / 1000,
        created_at=log.created_at)


@blueprint.get("")
@require(Permission.ORDERS_OWN)
@validate_querystring(OrderQuery)
@validate_response(OrderPage)
async def list_orders(query_args: OrderQuery) -> OrderPage:
    """The caller's orders, newest first, filtered by strategy, status and trading day."""
    async with get_resources().reads() as session:
        rows = await repo.list_owned(
            session, current_principal().user_id,
            repo.OrderFilter(strategy_id=query_args.strategy_id, status=query_args.status,
                             trading_day=query_args.trading_day),
            limit=query_args.limit + 1, before_id=query_args.cursor)
    page = rows[:query_args.limit]
    more = len(rows) > query_args.limit
    return OrderPage(items=[OrderOut.model_validate(_fields(r)) for r in page],
                     next_cursor=page[-1].id if more and page else None)


@blueprint.get("/<order_id>")
@require(Permission.ORDERS_OWN)
@validate_response(OrderDetail)
async def get_order(order_id: str) -> OrderDetail:
    """One of the caller's orders with every broker attempt."""
    async with get_resources().reads() as session:
        row = await repo.get_owned(session, current_principal().user_id, order_id)
        if row is None:
            raise NotFound("Order not found")
        logs = await repo.logs_of(session, row.id)
    return OrderDetail.model_validate({**_fields(row),
                                       "attempts_log": [_attempt(log) for log in logs]})
