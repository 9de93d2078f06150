"""/broker: connect, validate, disconnect and status of the caller's broker accounts (BRK-8),
and the callback the broker's login page redirects to."""

from __future__ import annotations

from datetime import datetime

from quart import Blueprint, request
from quart_schema import validate_querystring, validate_request, validate_response

from core.connections.service import ConnectionService, ConnectRequest
from core.connections.views import ConnectionStatus, ConnectionView
from core.rbac import Permission
from web.resources import get_resources
from web.schemas.brokers import (
    ConnectIn,
    ConnectionOut,
    ConnectionStatusOut,
    ConnectOut,
    DisconnectQuery,
    HealthOut,
    StatusOut,
    StatusQuery,
    ValidationOut,
)
from web.security import actor, current_principal, require

blueprint = Blueprint("brokers", __name__, url_prefix="/broker")


def _service() -> ConnectionService:
    return get_resources().services.connections


def _out(view: ConnectionView) -> ConnectionOut:
    return ConnectionOut.model_validate(view, from_attributes=True)


def _status(item: ConnectionStatus, now: datetime) -> ConnectionStatusOut:
    expires = item.connection.token_expires_at
    health = item.health
    return ConnectionStatusOut(
        connection=_out(item.connection),
        expires_in_s=None if expires is None else int((expires - now).total_seconds()),
        health=None if health is None else HealthOut(
            reachable=health.reachable, checked_at=health.checked, reason=health.reason),
        running_strategies=item.running_strategies)


def _request(data: ConnectIn) -> ConnectRequest:
    return ConnectRequest(broker_type=data.broker_type, secrets=dict(data.credentials),
                          code=data.code, label=data.label, credential_id=data.credential_id)


@blueprint.post("/connect")
@require(Permission.BROKERS_OWN)
@validate_request(ConnectIn)
@validate_response(ConnectOut, 201)
@validate_response(ConnectOut, 200)
async def connect(data: ConnectIn) -> tuple[ConnectOut, int]:
    """Connect (201) or reconnect (200) a broker account; `login_url` if the broker needs
    the user's browser login first."""
    outcome = await _service().connect(actor(), _request(data))
    body = ConnectOut(connection=_out(outcome.connection), login_url=outcome.login_url)
    return body, 201 if outcome.created else 200


@blueprint.post("/validate")
@require(Permission.BROKERS_OWN)
@validate_request(ConnectIn)
@validate_response(ValidationOut)
async def validate(data: ConnectIn) -> ValidationOut:
    """Test credentials, or a stored connection's session, with the broker; stores nothing."""
    found = await _service().validate(current_principal().user_id, _request(data))
    return ValidationOut.model_validate(found, from_attributes=True)


@blueprint.delete("/disconnect")
@require(Permission.BROKERS_OWN)
@validate_querystring(DisconnectQuery)
async def disconnect(query_args: DisconnectQuery) -> tuple[str, int]:
    """Remove a connection and its secrets; refused (BRK_005) while strategies use it."""
    await _service().disconnect(actor(), query_args.credential_id)
    return "", 204


@blueprint.get("/status")
@require(Permission.BROKERS_OWN)
@validate_querystring(StatusQuery)
@validate_response(StatusOut)
async def status(query_args: StatusQuery) -> StatusOut:
    """Each connection: state, token expiry, last broker probe, running strategies."""
    items = await _service().status(current_principal().user_id, check=query_args.check)
    now = get_resources().clock.now()
    return StatusOut(connections=[_status(item, now) for item in items])


@blueprint.get("/callback/<broker_type>")
@require(Permission.BROKERS_OWN)
@validate_response(ConnectionOut)
async def callback(broker_type: str) -> ConnectionOut:
    """Where the broker's login page sends the user back (Kite: request_token, Fyers:
    auth_code) with our single-use `state`. The caller must be the user who started the
    login (the browser's session cookie, or the web app forwarding the query with its
    bearer token): a login link used by anyone else stores nothing. The answer names the
    broker account that logged in (`account_id`)."""
    params = {key: value for key, value in request.args.items()}
    return _out(await _service().complete_login(broker_type, params, actor()))
