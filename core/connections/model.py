"""A connection's state, derived from its row and the clock, and what it means for trading.

    state          is_valid  token                     what the user does
    connected      yes       present, not past expiry   nothing
    pending_login  no        none yet                   finish the broker login
    expired        -         past token_expires_at      log in again (daily for Kite)
    invalid        no        present, not past expiry   the broker refused it: log in again
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

SELF_LOGIN: Final = frozenset({"angel_one"})
"""Broker types whose adapter logs in again by itself, with the PIN and TOTP secret every
such connection stores, when its session has died (brokers/angel_one/registry.py): an
expired session of theirs is no reason to hold a BUY or to ask the user to log in. (Dhan's
PIN + TOTP connections are renewed by the token check instead: core/connections/renewal.py.)
"""


class State(StrEnum):
    """What GET /broker/status calls a connection."""

    CONNECTED = "connected"
    PENDING_LOGIN = "pending_login"
    EXPIRED = "expired"
    INVALID = "invalid"


class Reason(StrEnum):
    """Why a connection is not valid (`broker_credentials.status_reason`)."""

    PENDING_LOGIN = "pending_login"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 (a reason, not a secret)
    REJECTED = "rejected_by_broker"
    UNREADABLE = "unreadable"
    """No configured encryption key opens its secrets."""
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class CredentialState:
    """The non-secret columns that decide a connection's state."""

    id: str
    user_id: str
    broker_type: str
    is_valid: bool
    has_token: bool
    token_expires_at: datetime | None
    status_reason: str | None
    deleted: bool = False


def state_of(cred: CredentialState, now: datetime) -> State:
    """The connection's state at `now`."""
    if not cred.has_token:
        return State.PENDING_LOGIN
    if cred.token_expires_at is not None and cred.token_expires_at <= now:
        return State.EXPIRED
    return State.CONNECTED if cred.is_valid else State.INVALID


def only_expired(cred: CredentialState, now: datetime) -> bool:
    """True if the session's age is all that is wrong with the connection (past its expiry,
    or marked invalid for that by the token check)."""
    state = state_of(cred, now)
    return state is State.EXPIRED or (state is State.INVALID
                                      and cred.status_reason == Reason.TOKEN_EXPIRED)


def not_ready_reason(cred: CredentialState | None, now: datetime) -> str | None:
    """Why a strategy on this connection cannot trade at `now` (None: it can)."""
    if cred is None or cred.deleted:
        return "the broker connection no longer exists"
    state = state_of(cred, now)
    if state is State.CONNECTED:
        return None
    if cred.broker_type in SELF_LOGIN and only_expired(cred, now):
        return None  # the adapter logs in again before its next call
    if state is State.EXPIRED:
        return f"the {cred.broker_type} access token expired: log in to the broker again"
    if state is State.PENDING_LOGIN:
        return f"the {cred.broker_type} login was never completed"
    return (f"the {cred.broker_type} session is not valid "
            f"({cred.status_reason or 'refused by the broker'}): log in to the broker again")
