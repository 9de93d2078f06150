"""NATS stream names and subjects (DESIGN §3): built here, nowhere else."""

from __future__ import annotations

from typing import Final

TICKS: Final = "TICKS"
COMMANDS: Final = "COMMANDS"
EVENTS: Final = "EVENTS"
DLQ: Final = "DLQ"

TICKS_ALL: Final = "ticks.>"
COMMANDS_ALL: Final = "cmd.order.>"
EVENTS_ALL: Final = "events.>"
DLQ_ALL: Final = "dlq.>"

MSG_ID_HEADER: Final = "Nats-Msg-Id"

_FORBIDDEN = frozenset(" .*>\t\r\n")


def token(value: str) -> str:
    """Check that `value` can stand as one subject token (no dots, spaces or wildcards)."""
    if not value or any(c in _FORBIDDEN for c in value):
        raise ValueError(f"not a valid subject token: {value!r}")
    return value


def tick(exchange: str, symbol: str) -> str:
    """`ticks.{exchange}.{symbol}`."""
    return f"ticks.{token(exchange)}.{token(symbol)}"


def order_command(user_id: str, strategy_id: str) -> str:
    """`cmd.order.{user_id}.{strategy_id}`."""
    return f"cmd.order.{token(user_id)}.{token(strategy_id)}"


def event(user_id: str, strategy_id: str | None, event_type: str) -> str:
    """`events.{user_id}.{strategy_id}.{type}`; `-` stands for 'no strategy'."""
    return f"events.{token(user_id)}.{token(strategy_id or '-')}.{token(event_type)}"


def user_events(user_id: str) -> str:
    """Every event of one user."""
    return f"events.{token(user_id)}.>"


def strategy_events(user_id: str, strategy_id: str) -> str:
    """Every event of one strategy."""
    return f"events.{token(user_id)}.{token(strategy_id)}.*"


def events_of_type(event_type: str) -> str:
    """Every user's and strategy's events of one type: `events.*.*.{type}`."""
    return f"events.*.*.{token(event_type)}"


def dlq(source_stream: str, consumer: str) -> str:
    """Where a consumer parks a command that exhausted its deliveries."""
    return f"dlq.{token(source_stream.lower())}.{token(consumer)}"


def order_msg_id(strategy_id: str, trading_day: str, action: str) -> str:
    """The de-duplication key of an order command: one intent, one message."""
    return f"{strategy_id}:{trading_day}:{action}"


# Headers of a command parked on the DLQ stream (the executor writes them, the admin API
# reads them).
DLQ_REASON_HEADER: Final = "Algo-Reason"
DLQ_SUBJECT_HEADER: Final = "Algo-Subject"
DLQ_DELIVERIES_HEADER: Final = "Algo-Deliveries"
