"""Schemas of /broker. Secrets go in, never out: no response model has a secret field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from core.connections.model import State

SecretName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
SecretValue = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class ConnectIn(BaseModel):
    """Connect a broker account, or reconnect one (`credential_id`): the daily login."""

    broker_type: str = Field(min_length=1, max_length=16, examples=["zerodha"])
    credentials: dict[SecretName, SecretValue] = Field(
        default_factory=dict, max_length=16,
        description="The broker's secrets by name (zerodha: api_key, api_secret, optionally "
                    "access_token); on a reconnect the stored ones fill in what is left out")
    code: str | None = Field(default=None, min_length=1, max_length=512,
                             description="The code of the broker's login redirect (Kite "
                                         "request_token), if the client already holds it")
    label: str | None = Field(default=None, min_length=1, max_length=64)
    credential_id: str | None = Field(default=None, min_length=1, max_length=32)


class HealthOut(BaseModel):
    """The last time the broker was called with this connection's session."""

    reachable: bool
    checked_at: datetime
    reason: str | None = None


class ConnectionOut(BaseModel):
    """A broker connection (no secret, ever)."""

    id: str
    broker_type: str
    label: str | None
    account_id: str | None = Field(description="the broker's id of the account")
    state: State
    is_valid: bool
    status_reason: str | None
    token_expires_at: datetime | None
    last_validated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConnectOut(BaseModel):
    """The connection; `login_url` is set when the user must log in at the broker, which
    then redirects to /broker/callback/{broker_type}."""

    connection: ConnectionOut
    login_url: str | None = None


class ValidationOut(BaseModel):
    """Whether the broker accepts the credentials (nothing was stored)."""

    valid: bool
    broker_type: str
    account_id: str | None = None
    account_name: str | None = None
    token_expires_at: datetime | None = None
    error_code: str | None = None
    message: str | None = None


class StatusQuery(BaseModel):
    """`check=true` calls each connected broker now instead of reporting the last probe."""

    check: bool = False


class ConnectionStatusOut(BaseModel):
    """One connection, its token expiry and health."""

    connection: ConnectionOut
    expires_in_s: int | None = Field(description="seconds until the token dies (≤ 0: dead)")
    health: HealthOut | None
    running_strategies: int


class StatusOut(BaseModel):
    """Every connection of the caller."""

    connections: list[ConnectionStatusOut]


class DisconnectQuery(BaseModel):
    """Which connection to remove."""

    credential_id: str = Field(min_length=1, max_length=32)
