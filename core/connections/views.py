"""What the service hands out about a connection: never a secret, never an ORM row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.connections.health import Health
from core.connections.model import State, state_of
from core.db.models import BrokerCredential
from core.repos.broker_credentials import state_of_row


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """A broker connection, as its owner may see it."""

    id: str
    broker_type: str
    label: str | None
    account_id: str | None
    state: State
    is_valid: bool
    status_reason: str | None
    token_expires_at: datetime | None
    last_validated_at: datetime | None
    created_at: datetime
    updated_at: datetime


def view_of(row: BrokerCredential, now: datetime) -> ConnectionView:
    """The public view of a row at `now`."""
    return ConnectionView(
        id=row.id, broker_type=row.broker_type, label=row.label, account_id=row.client_id,
        state=state_of(state_of_row(row), now), is_valid=row.is_valid,
        status_reason=row.status_reason, token_expires_at=row.token_expires_at,
        last_validated_at=row.last_validated_at, created_at=row.created_at,
        updated_at=row.updated_at)


@dataclass(frozen=True, slots=True)
class ConnectOutcome:
    """What POST /broker/connect did: connected, or waiting for the browser login."""

    connection: ConnectionView
    login_url: str | None
    created: bool


@dataclass(frozen=True, slots=True)
class Validation:
    """What POST /broker/validate found (nothing was stored)."""

    valid: bool
    broker_type: str
    account_id: str | None = None
    account_name: str | None = None
    token_expires_at: datetime | None = None
    error_code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """One connection in GET /broker/status."""

    connection: ConnectionView
    health: Health | None
    running_strategies: int
